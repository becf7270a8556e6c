"""The built-in `review` workflow, end to end: found by name, run in a temporary git
repository, its backends stand-ins served by the real test server on 127.0.0.1.

The role `default` holds two backends, m0 and m1 (execution = "fallback", as
`llm-mux init` writes it): both review at once, m0 reconciles; with apply=true both
write a patch, each verified in its own git worktree (best of N).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from support.openai_server import ModelServer, Reply

REPO = Path(__file__).resolve().parents[2]
BUILTIN = REPO / "llm_mux" / "workflows" / "review.toml"

ORIGINAL = "def add(a, b):\n    return a + b\n"
BROKEN = "def add(a, b):\n    return a - b\n"
# Reviewers answer in the fixed JSON shape; the reconciler keeps F1 (the merged finding).
M0_REVIEW = json.dumps(
    {
        "findings": [
            {
                "file": "calc.py",
                "line": 2,
                "severity": "high",
                "title": "add() subtracts",
                "explanation": "add(2, 3) returns -1",
                "suggested_fix": "return a + b",
            }
        ]
    }
)
M1_REVIEW = json.dumps(
    {
        "findings": [
            {
                "file": "b/calc.py",
                "line": 2,
                "severity": "medium",
                "title": "add subtracts its arguments",
                "explanation": "wrong sign",
            }
        ]
    }
)
RECONCILED = json.dumps({"findings": [{"id": "F1"}], "dropped": [], "verdict": "fix first"})
NOTHING = json.dumps({"findings": [], "dropped": [], "verdict": "ship it"})
FINDING = "1. **high** `calc.py:2` — add() subtracts (2 of 2: m0, m1)"
FIX = """```diff
--- a/calc.py
+++ b/calc.py
@@ -1,2 +1,2 @@
 def add(a, b):
-    return a - b
+    return a + b
```"""
WRONG_FIX = FIX.replace("+    return a + b", "+    return a * b")
VERIFY = "verify=python3 -c 'import calc; assert calc.add(2, 3) == 5'"


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True)
    return done.stdout


@pytest.fixture
def repo(tmp_path: Path, openai_server: ModelServer) -> Path:
    """A git repository whose calc.py has an uncommitted bug; a user config with role default."""
    root = tmp_path / "repo"
    root.mkdir()
    (root / "calc.py").write_text(ORIGINAL)
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "calc")
    (root / "calc.py").write_text(BROKEN)
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "llm-mux" / "config.toml"
    config.parent.mkdir(parents=True)
    backends = "".join(
        f'[backends.{name}]\ncommand = "{openai_server.url}"\nmodel = "{name}"\n'
        for name in ("m0", "m1")
    )
    roles = '[roles.default]\nbackends = ["m0", "m1"]\nexecution = "fallback"\n'
    config.write_text(backends + roles)
    openai_server.default = Reply(NOTHING)  # valid for the reviewers and the reconciler
    return root


def review(cli, root: Path, *args: str, code: int = 0) -> dict[str, object]:  # type: ignore[no-untyped-def]
    result = cli("--output", "json", "run", "review", *args, cwd=root)
    assert result.code == code, result.out + result.err
    document: dict[str, object] = json.loads(result.out)
    return document


def steps(document: dict[str, object]) -> dict[str, dict[str, object]]:
    found = document["steps"]
    assert isinstance(found, dict)
    return found


def test_the_builtin_review_validates_clean_and_is_listed(cli, repo: Path) -> None:
    result = cli("validate", "--strict", str(BUILTIN), cwd=repo)
    assert result.code == 0, result.out + result.err
    listed = json.loads(cli("--output", "json", "workflows", cwd=repo).out)
    assert any(w["name"] == "review" and "built" in json.dumps(w) for w in listed), listed


def test_review_runs_every_default_backend_then_one_reconciles(
    cli, repo: Path, openai_server: ModelServer
) -> None:
    openai_server.script("m0", Reply(M0_REVIEW), Reply(RECONCILED))
    openai_server.script("m1", Reply(M1_REVIEW))
    document = review(cli, repo)
    assert FINDING in str(document["output"])
    found = steps(document)
    assert found["review"]["backends"] == ["m0", "m1"]
    assert [found[name]["status"] for name in ("files", "patch", "apply")] == ["skipped"] * 3
    (asked_m0, reconciled) = openai_server.requests("m0")
    (asked_m1,) = openai_server.requests("m1")
    for request in (asked_m0, asked_m1):
        assert "-    return a + b\n+    return a - b" in request.prompt
        assert "The diff against HEAD, under .:" in request.prompt
    assert reconciled.prompt.startswith("2 reviewers read the same diff.")
    assert '"raised_by": [\n        "m0",\n        "m1"\n      ]' in reconciled.prompt
    assert (repo / "calc.py").read_text() == BROKEN  # nothing applied without apply=true


def test_apply_true_applies_the_first_patch_that_passes_in_its_own_worktree(
    cli, repo: Path, openai_server: ModelServer
) -> None:
    openai_server.script("m0", Reply(M0_REVIEW), Reply(RECONCILED), Reply(FIX))
    openai_server.script("m1", Reply(NOTHING), Reply(WRONG_FIX), Reply(WRONG_FIX))
    document = review(cli, repo, "apply=true", VERIFY)
    assert "1. **high** `calc.py:2` — add() subtracts (1 of 2: m0)" in str(document["output"])
    apply = steps(document)["apply"]
    assert apply["status"] == "succeeded" and apply["files_changed"] == ["calc.py"]
    assert apply["winner"] == "m0" and apply["workspace"] == "git worktree"
    candidates = {c["backend"]: c for c in apply["candidates"]}  # type: ignore[attr-defined]
    assert candidates["m0"]["status"] == "won"
    # m1's wrong patch fails, unless m0 passed first and m1 was stopped while verifying
    assert candidates["m1"]["status"] in ("failed", "cancelled")
    if candidates["m1"]["status"] == "failed":
        assert "+    return a * b" in candidates["m1"]["diff"]
    assert (repo / "calc.py").read_text() == ORIGINAL
    for patch_prompt in (openai_server.requests("m0")[2], openai_server.requests("m1")[1]):
        assert "add() subtracts (1 of 2: m0)" in patch_prompt.prompt
        assert "=== calc.py ===\n" + BROKEN in patch_prompt.prompt
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1


def test_apply_true_leaves_the_tree_alone_when_no_patch_passes(
    cli, repo: Path, openai_server: ModelServer
) -> None:
    replies = (Reply(M0_REVIEW), Reply(RECONCILED), Reply(WRONG_FIX), Reply(WRONG_FIX))
    openai_server.script("m0", *replies)
    openai_server.script("m1", Reply(NOTHING), Reply(WRONG_FIX), Reply(WRONG_FIX))
    document = review(cli, repo, "apply=true", VERIFY, code=1)
    apply = steps(document)["apply"]
    assert apply["status"] == "failed"
    assert "no candidate passed (the working tree was not touched)" in str(apply["error"])
    assert len(openai_server.requests("m0")) == 4  # asked again once (verify_retries = 1)
    assert len(openai_server.requests("m1")) == 3  # its own re-ask, with its own error
    assert (repo / "calc.py").read_text() == BROKEN  # the user's own change survives


def test_a_large_diff_is_cut_with_a_note(cli, repo: Path, openai_server: ModelServer) -> None:
    (repo / "calc.py").write_text(BROKEN + "".join(f"# line {n}\n" for n in range(400)))
    review(cli, repo, "max_bytes=300")
    prompt = openai_server.requests("m1")[0].prompt
    assert "[diff truncated: the first 300 of " in prompt
    assert "# line 399" not in prompt


def test_base_scope_and_new_files(cli, repo: Path, openai_server: ModelServer) -> None:
    (repo / "sub").mkdir()
    (repo / "sub" / "new.py").write_text("print('new')\n")
    review(cli, repo, "scope=sub")
    prompt = openai_server.requests("m1")[0].prompt
    assert "+++ b/sub/new.py" in prompt and "calc.py" not in prompt
    assert "The diff against HEAD, under sub:" in prompt


def test_nothing_to_review_and_a_bad_base_say_so(
    cli, repo: Path, openai_server: ModelServer
) -> None:
    git(repo, "checkout", "--", "calc.py")
    result = cli("run", "review", cwd=repo)
    assert result.code == 1
    assert "nothing to review: no changes against HEAD under ." in result.err
    result = cli("run", "review", "base=no-such-branch", cwd=repo)
    assert result.code == 1
    assert "base no-such-branch is not a commit of this repository" in result.err
    assert openai_server.requests() == []


def test_a_parallel_default_role_still_reconciles_with_exactly_one_backend(
    cli, repo: Path, openai_server: ModelServer
) -> None:
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "llm-mux" / "config.toml"
    config.write_text(config.read_text().replace('"fallback"', '"parallel"'))
    openai_server.script("m0", Reply(M0_REVIEW), Reply(RECONCILED))
    openai_server.script("m1", Reply(M1_REVIEW), Reply("a second reconciliation"))
    document = review(cli, repo)
    assert FINDING in str(document["output"])
    reconcile = steps(document)["reconcile"]
    assert reconcile["backends"] == ["m0"]
    assert len(openai_server.requests("m0")) == 2
    assert len(openai_server.requests("m1")) == 1  # it reviewed, and was not asked to reconcile


SECRETS = {
    ".env": "API_TOKEN=abcd1234efgh5678\n",
    ".env.production": "DATABASE_URL=postgres://u:p@h/db\n",
    "deploy/server.pem": "not really a certificate\n",
    "keys/id_ed25519": "not really a key\n",
    "config/settings.yaml": "GITHUB_TOKEN: ghp_abcdefghijklmnopqrstuvwxyz0123456789\n",
    "notes/aws.txt": "the key is AKIAABCDEFGHIJKLMNOP\n",
    "server.key": "server key material\n",
    "tls/private.txt": "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n",
}
HARMLESS = {
    ".env.example": "API_TOKEN=\n",
    "keys/id_ed25519.pub": "ssh-ed25519 AAAA me@host\n",
    "auth.py": "def login(password):\n    token = make_token(password)\n    return token\n",
    "notes.md": "Set API_TOKEN in your environment.\n",
}


def write_files(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_untracked_files_that_look_like_secrets_stay_out_with_a_note(
    cli, repo: Path, openai_server: ModelServer
) -> None:
    write_files(repo, SECRETS | HARMLESS)
    result = cli("run", "review", cwd=repo)
    assert result.code == 0, result.err
    prompts = [r.prompt for r in openai_server.requests()]
    assert prompts
    for prompt in prompts:
        for name, text in SECRETS.items():
            assert text.strip().splitlines()[0] not in prompt, name
        for name, text in HARMLESS.items():
            assert f"+++ b/{name}" in prompt and text.splitlines()[0] in prompt, name
        note = prompt.split("[not sent: untracked files that look like secrets: ", 1)[1]
        listed = note.split(" — to review one, name it: include=PATH]", 1)[0].split(" ")
        assert sorted(listed) == sorted(SECRETS)


def test_a_secret_looking_file_the_user_names_is_sent(
    cli, repo: Path, openai_server: ModelServer
) -> None:
    write_files(repo, {".env": "API_TOKEN=abcd1234efgh5678\n", "server.key": "k\n"})
    review(cli, repo, "include=.env")
    prompt = openai_server.requests("m1")[0].prompt
    assert "API_TOKEN=abcd1234efgh5678" in prompt
    assert "look like secrets: server.key —" in prompt
    git(repo, "checkout", "--", "calc.py")
    (repo / ".env").unlink()
    review(cli, repo, "scope=server.key")
    assert "+k" in openai_server.requests("m1")[1].prompt


def test_only_secrets_is_nothing_to_review(cli, repo: Path, openai_server: ModelServer) -> None:
    git(repo, "checkout", "--", "calc.py")
    write_files(repo, {".env": "API_TOKEN=abcd1234efgh5678\n"})
    result = cli("run", "review", cwd=repo)
    assert result.code == 1 and "nothing to review" in result.err
    assert "untracked files that look like secrets: .env" in result.err
    assert openai_server.requests() == []


def test_apply_sends_no_secret_file_either(cli, repo: Path, openai_server: ModelServer) -> None:
    write_files(repo, {".env": "API_TOKEN=abcd1234efgh5678\n"})
    openai_server.script("m0", Reply(M0_REVIEW), Reply(RECONCILED), Reply(FIX))
    openai_server.script("m1", Reply(M1_REVIEW))
    review(cli, repo, "apply=true", VERIFY)
    for request in openai_server.requests():
        assert "abcd1234efgh5678" not in request.prompt


def test_the_rust_name_repository_review_runs_the_builtin_review(
    cli, repo: Path, openai_server: ModelServer
) -> None:
    openai_server.script("m0", Reply("high: subtracts"), Reply(FINDING))
    openai_server.script("m1", Reply("No findings."))
    document = review(cli, repo)  # warm-up: the same answers by our name
    openai_server.script("m0", Reply("high: subtracts"), Reply(FINDING))
    openai_server.script("m1", Reply("No findings."))
    result = cli("--output", "json", "run", "repository-review", cwd=repo)
    assert result.code == 0, result.err
    aliased = json.loads(result.out)
    assert aliased["workflow"] == document["workflow"] == "review"
    assert aliased["output"] == document["output"] and aliased["output"]
