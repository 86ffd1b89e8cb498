from stackprof.redact import Redactor


def test_home_is_redacted_only_where_a_path_starts():
    r = Redactor(home="/root", user="root", host="buildhost")
    assert r.text("/root/.pyenv/bin/python") == "~/.pyenv/bin/python"
    assert r.text("PATH=/root/bin:/usr/bin") == "PATH=~/bin:/usr/bin"
    # torch's CXX_COMPILER lives under a toolset's "root" folder: not a home directory.
    assert r.text("/opt/rh/gcc-toolset-13/root/usr/bin/c++") == "/opt/rh/gcc-toolset-13/root/usr/bin/c++"
    assert r.text("/rootfs/data") == "/rootfs/data"


def test_user_home_and_host_name():
    r = Redactor(home="/home/alice", user="alice", host="gpu-node-17")
    assert r.text("/home/alice/venv/bin/python") == "~/venv/bin/python"
    assert "alice" not in r.text("/data/home/alice/x")
    assert r.text("built on gpu-node-17") == "built on <host>"


def test_identity_kept_with_no_redact_but_secrets_never():
    r = Redactor(identity=False, home="/home/alice", user="alice", host="gpu-node-17")
    assert r.text("/home/alice/x") == "/home/alice/x"
    assert "ghp_" not in r.text("token ghp_abcdefghijklmnopqrstuvwxyz0123456789")
