"""Loading: imports relative to the importing file, each file once, cycles, missing files,
unreadable text, and file names as the user gave them."""

from __future__ import annotations

from compiler import check_files, check_sources

API = 'api crm {\n  base "http://127.0.0.1:8787"\n  auth none\n}\n'
ENT = 'entity User {\n  id string\n}\n'
WF = 'workflow UserWorkflow manages User {\n  source crm get "/users/{id}"\n}\n'


def codes(diags):
    return [(d.code, d.span.file, d.span.line) for d in diags]


def test_diamond_loads_each_file_once():
    files = {"a.swf": 'import "lib/b.swf"\nimport "lib/c.swf"\n' + WF,
             "lib/b.swf": 'import "d.swf"\n', "lib/c.swf": 'import "./d.swf"\n',
             "lib/d.swf": API + ENT}
    assert check_sources(files, ["a.swf"]) == []


def test_import_cycle_names_the_chain():
    files = {"a.swf": 'import "b.swf"\n' + API + ENT + WF, "b.swf": 'import "a.swf"\n'}
    (d,) = check_sources(files, ["a.swf"])
    assert (d.code, d.span.file, d.span.line) == ("SWF070", "b.swf", 1)
    assert "a.swf -> b.swf -> a.swf" in d.message


def test_missing_import_reported_at_the_import():
    files = {"dir/a.swf": API + ENT + WF + '\nimport "../other/x.swf"\n'}
    (d,) = check_sources(files, ["dir/a.swf"])
    assert (d.code, d.span.file, d.span.line) == ("SWF071", "dir/a.swf", 12)
    assert "`other/x.swf`" in d.message


def test_non_utf8_file_points_at_the_bad_byte(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.swf").write_bytes(b"# ok\n# caf\xe9\n")
    (d,) = check_files(["a.swf"])
    assert (d.code, d.span.line, d.span.col) == ("SWF002", 2, 6)


def test_names_stay_relative_to_cwd(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.swf").write_text('import "b.swf"\n' + API + ENT + WF)
    (tmp_path / "sub" / "b.swf").write_text('entity User {\n  id string\n}\n')
    monkeypatch.chdir(tmp_path)
    diags = check_files(["sub/a.swf"])
    assert codes(diags) == [("SWF010", "sub/b.swf", 1)]
    assert diags[0].notes[0].span.file == "sub/a.swf"
    diags = check_files([str(tmp_path / "sub" / "a.swf")])
    assert codes(diags) == [("SWF010", "sub/b.swf", 1)]


def test_directory_as_input(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d.swf").mkdir()
    assert [d.code for d in check_files(["d.swf"])] == ["SWF002"]


def test_long_import_chain():
    n = 1500
    files = {f"f{i}.swf": f'import "f{i + 1}.swf"\n' for i in range(n)}
    files[f"f{n}.swf"] = API + ENT + WF
    assert check_sources(files, ["f0.swf"]) == []
    files[f"f{n}.swf"] += 'import "f0.swf"\n'
    (d,) = check_sources(files, ["f0.swf"])
    assert d.code == "SWF070" and d.message.count("->") == n + 1
