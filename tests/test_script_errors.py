"""said_errors: a `python -m` script's ValueError or OSError said on one line, its result passed through."""
import errno

from timestepmusic.script_errors import said_errors


def test_result_passed_through(capsys):
    assert said_errors(lambda: (1, "x"), "where", "the thing") == (1, "x")
    assert capsys.readouterr().err == ""


def test_value_error_said_as_is(capsys):
    def bad():
        raise ValueError("model/config.json: not a model")
    assert said_errors(bad, "where", "the thing") is None
    assert capsys.readouterr().err == "error: model/config.json: not a model\n"


def test_os_error_names_the_file_else_where(capsys):
    def full(filename):
        def job():
            raise OSError(errno.ENOSPC, "No space left on device", filename)
        return job
    assert said_errors(full("out/paths.safetensors"), "out", "the paths") is None
    assert capsys.readouterr().err == "error: out/paths.safetensors: cannot write the paths (No space left on device)\n"
    assert said_errors(full(None), "out", "the paths") is None
    assert capsys.readouterr().err == "error: out: cannot write the paths (No space left on device)\n"
