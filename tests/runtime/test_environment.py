"""A child's environment, encoded once per run: the laws that make sharing it safe.

`Environment.plus` (the reaper's tag, added per child) must give exactly the bytes a
fresh encoding of the merged variables gives, whatever the variables and whether the
name is already there; and the run's children must get it.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llm_mux.executors.local import LocalExecutor
from llm_mux.executors.work import Work
from llm_mux.processes import reaper, spawn
from llm_mux.processes.environment import Environment, encode

names = st.text(st.characters(blacklist_characters="=\0", codec="utf-8"), min_size=1)
values = st.text(st.characters(blacklist_characters="\0", codec="utf-8"))


def variables(encoded: tuple[bytes, ...]) -> dict[bytes, bytes]:
    """The pairs as exec's reader sees them; a name given twice would be lost here."""
    pairs = dict(pair.split(b"=", 1) for pair in encoded)
    assert len(pairs) == len(encoded), "a name appears twice"
    return pairs


@given(st.dictionaries(names, values, max_size=8), names, values)
def test_plus_encodes_as_a_fresh_encoding_of_the_merged_variables(
    env: dict[str, str], name: str, value: str
) -> None:
    merged = {**env, name: value}
    shared = Environment(env).plus(name, value)
    assert dict(shared) == merged
    assert variables(shared.encoded()) == variables(encode(merged))


@given(st.dictionaries(names, values, max_size=8))
def test_a_name_already_there_is_replaced_not_repeated(env: dict[str, str]) -> None:
    shared = Environment({**env, "TAG": "outer"}).plus("TAG", "inner")
    assert variables(shared.encoded())[b"TAG"] == b"inner"


def test_it_is_a_copy_and_encodes_once() -> None:
    original = {"A": "1"}
    shared = Environment(original)
    original["A"] = "changed"
    assert shared["A"] == "1"
    assert shared.encoded() is shared.encoded()
    assert spawn._environment(shared) is shared.encoded()


def test_a_name_holding_an_equals_sign_is_refused() -> None:
    with pytest.raises(ValueError, match="illegal environment variable name"):
        Environment({"A": "1"}).plus("B=C", "d")


@pytest.mark.skipif(not reaper.enabled(), reason="the reaper's tag needs Linux pidfds")
def test_each_child_of_a_run_gets_the_run_environment_and_its_own_tag(tmp_path: Path) -> None:
    executor = LocalExecutor(tmp_path, {**os.environ, "RUN_WIDE": "é"})
    work = Work(argv=("sh", "-c", 'printf "%s %s" "$RUN_WIDE" "$LLM_MUX_SPAWN"'))

    async def twice() -> list[str]:
        return [(await executor.run(work)).stdout for _ in range(2)]

    first, second = (line.split(" ") for line in asyncio.run(twice()))
    assert first[0] == second[0] == "é"
    assert first[1] != second[1] and first[1].startswith(f"{os.getpid()}.")
    assert "LLM_MUX_SPAWN" not in executor.env  # the tag is the child's, not the run's
