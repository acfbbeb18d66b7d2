"""The hot-reload watcher names a synced Python file that does not compile (build.py)."""

import pytest

import build


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def handler(event, context)\n    return 1\n", "app.py:1: expected ':'"),
        ("x = 1\n  y = 2\n", "app.py:2: unexpected indent"),
        ("print('a'\n", "app.py:1: '(' was never closed"),
        (b"x = 1\x00\n", "app.py: source code string cannot contain null bytes"),
    ],
)
def test_a_file_that_does_not_compile_is_named_with_its_line(tmp_path, source, expected):
    (tmp_path / "app.py").write_bytes(source if isinstance(source, bytes) else source.encode())
    (tmp_path / "ok.py").write_text("def handler(event, context):\n    return 1\n")
    (tmp_path / "data.json").write_text("{not python")
    assert build.syntax_errors(tmp_path, ["app.py", "ok.py", "data.json", "gone.py"]) == [expected]
