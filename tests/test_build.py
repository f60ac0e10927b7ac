"""`simmcu build` options and messages: include directories, optimisation level, extra flags,
headers beside the sources, and compiler and linker errors that name the user's files."""

import shutil

import pytest

from simmcu import ConfigError, Simulator, ToolchainError
from simmcu.firmware import build

from test_cli import cli

MAIN = """#include "simmcu.h"
#include "local.h"
#include "lib.h"
#ifdef __OPTIMIZE_SIZE__
#define SIZE 1
#else
#define SIZE 0
#endif
int main(void)
{
    printf("%s %s %d %d\\n", lib_file(), LOCAL, GREETING, SIZE);
    return 0;
}
"""


@pytest.fixture
def project(tmp_path):
    """app/main.c with app/local.h beside it (not listed), lib/lib.h reached through -I."""
    (tmp_path / "app").mkdir()
    (tmp_path / "lib").mkdir()
    (tmp_path / "app" / "main.c").write_text(MAIN)
    (tmp_path / "app" / "local.h").write_text('#define LOCAL "local"\n')
    (tmp_path / "lib" / "lib.h").write_text("static inline const char *lib_file(void) { return __FILE__; }\n")
    return tmp_path


def test_include_dirs_optimisation_and_extra_flags(project):
    args = ("build", "app/main.c", "-I", "lib", "-O", "s", "--cflags", "-DGREETING=42 -Wno-unused-function",
            "-o", "app.elf")
    rc, out, err = cli(*args, cwd=project)
    assert rc == 0, err
    elf = project / "app.elf"
    assert Simulator(elf).run().console == "lib/lib.h local 42 1\n"
    # The same inputs elsewhere on the host give the same bytes: no absolute path leaks in.
    other = project / "elsewhere"
    shutil.copytree(project / "app", other / "app")
    shutil.copytree(project / "lib", other / "lib")
    assert cli(*args, cwd=other)[0] == 0
    data = elf.read_bytes()
    assert (other / "app.elf").read_bytes() == data and str(project).encode() not in data
    rc, _, err = cli("build", "app/main.c", "-I", "lib", "-O", "0", "--cflags=-DGREETING=1", "-o", "o0.elf",
                     cwd=project)
    assert rc == 0, err
    assert (project / "o0.elf").stat().st_size > len(data)
    rc, _, err = cli("build", "app/main.c", "-O", "4", "-o", "x.elf", cwd=project)
    assert rc == 120 and err == "simmcu: error: unknown optimisation level '4' (valid: 0, 1, 2, 3, s, z)\n"
    rc, _, err = cli("build", "app/main.c", "-I", "nope", "-o", "x.elf", cwd=project)
    assert rc == 120 and err == "simmcu: error: include directory nope does not exist\n"


def test_the_python_api_takes_the_same_options(project):
    elf = build([project / "app" / "main.c"], "cortex-m4", project / "a.elf", include_dirs=[project / "lib"],
                optimize="s", cflags=["-Wno-unused-function"], defines={"GREETING": "7"})
    assert Simulator(elf, core="cortex-m4").run().console == f"{project}/lib/lib.h local 7 1\n"
    with pytest.raises(ConfigError, match="optimisation level"):
        build(project / "app" / "main.c", "rv32imc", project / "b.elf", optimize="fast")


def test_compiler_errors_name_the_users_file_and_line(project):
    (project / "app" / "bad.c").write_text('#include "simmcu.h"\nint main(void)\n{\n    return x;\n}\n')
    rc, _, err = cli("build", "app/bad.c", "-o", "x.elf", cwd=project)
    assert rc == 126
    assert err == "simmcu: error: compiler failed: app/bad.c:4:12: error: use of undeclared identifier 'x'\n"
    (project / "lib" / "lib.h").write_text("static int broken(void) { return y; }\n")
    with pytest.raises(ToolchainError) as e:  # in a header reached through -I, as the user spelled it
        build(project / "app" / "main.c", "rv32imc", project / "x.elf", include_dirs=[project / "lib"])
    assert str(e.value) == f"compiler failed: {project}/lib/lib.h:1:34: error: use of undeclared identifier 'y'"
    rc, _, err = cli("build", "app/main.c", "-I", "lib", "-o", "x.elf", cwd=project)
    assert rc == 126 and "compiler failed: lib/lib.h:1:34: error:" in err
    (project / "lib" / "lib.h").write_text("static inline const char *lib_file(void) { return __FILE__; }\n")
    (project / "app" / "local.h").write_text('static int broken(void) { return w; }\n#define LOCAL "l"\n')
    rc, _, err = cli("build", "app/main.c", "-I", "lib", "-o", "x.elf", cwd=project)  # beside the source
    assert rc == 126 and "compiler failed: app/local.h:1:34: error: use of undeclared identifier 'w'" in err


def test_linker_errors_name_the_symbol_and_where_it_is_used(project):
    (project / "app" / "link.c").write_text('void missing(void);\nint main(void)\n{\n    missing();\n'
                                            '    return 0;\n}\n')
    rc, _, err = cli("build", "app/link.c", "-o", "x.elf", cwd=project)
    assert rc == 126
    assert err == "simmcu: error: linker failed: undefined symbol: missing (referenced by app/link.c:4)\n"


def test_sources_with_the_same_name_are_refused(project):
    (project / "lib" / "main.c").write_text("int helper(void) { return 1; }\n")
    rc, _, err = cli("build", "app/main.c", "lib/main.c", "-o", "x.elf", cwd=project)
    assert rc == 120 and "lib/main.c and app/main.c have the same name" in err


@pytest.mark.parametrize("core", ["rv32imc", "cortex-m4"])
def test_the_runtimes_size_does_not_move_user_code(tmp_path, core):
    """User code links first, and the memcpy family first in the runtime: a runtime of another
    size (here without the command-line fetch) leaves kernels and what they call where they were."""
    (tmp_path / "k.c").write_text("""#include "simmcu.h"
static char a[64], b[64];
__attribute__((noinline)) void kernel(void) { memset(a, 1, sizeof a); memcpy(b, a, sizeof b); }
int main(void) { kernel(); return b[3] - 1; }
""")
    symbols = [Simulator(build(tmp_path / "k.c", core, tmp_path / f"{n}.elf", defines=d), core=core).image.symbols
               for n, d in (("with", None), ("without", {"SIMMCU_NO_CMDLINE": "1"}))]
    assert symbols[0]["__simmcu_start_c"].size != symbols[1]["__simmcu_start_c"].size
    where = [{n: s[n].addr for n in ("main", "kernel", "memcpy", "memset")} for s in symbols]
    assert where[0] == where[1]
