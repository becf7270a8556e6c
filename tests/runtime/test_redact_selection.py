"""Which values count as secrets: real keys do, placeholders that are ordinary words do not."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from llm_mux.compiler.plan import BackendSpec
from llm_mux.redact import Redactor, is_placeholder

ANSWER = "Run ollama pull llama3.2 first, then a dummy request; none needed."


def test_placeholder_keys_leave_answers_alone() -> None:
    env = {"OPENAI_API_KEY": "ollama", "ANTHROPIC_API_KEY": "dummy", "GEMINI_API_KEY": "none",
           "LOCAL_TOKEN": "sk-no-key-required", "X_KEY": "EMPTY"}  # fmt: skip
    spec = BackendSpec(name="local", kind="openai", command="http://127.0.0.1:1/v1", model="m",
                       api_key="${OPENAI_API_KEY}")  # fmt: skip
    assert Redactor.for_run(env, [spec])(ANSWER) == ANSWER


def test_real_keys_are_redacted_wherever_they_come_from() -> None:
    env = {"OPENAI_API_KEY": "sk-proj-4f1d9a7c2b6e", "VENDOR": "Zq8xPw3mLk9v",
           "CLI_CRED": "tok-77e1c0ffee", "PLAIN": "not-a-secret-1234"}  # fmt: skip
    http = BackendSpec(name="h", kind="openai", command="http://x/v1", model="m",
                       headers=(("x-auth", "${VENDOR}"),))  # fmt: skip
    cli = BackendSpec(
        name="c", kind="cli", command="agent", env=(("AGENT_API_KEY", "${CLI_CRED}"),)
    )
    redact = Redactor.for_run(env, [http, cli])
    text = "sk-proj-4f1d9a7c2b6e Zq8xPw3mLk9v tok-77e1c0ffee not-a-secret-1234"
    assert redact(text) == (
        "[redacted:OPENAI_API_KEY] [redacted:VENDOR] [redacted:CLI_CRED] not-a-secret-1234"
    )


@given(st.from_regex(r"[a-z]{1,12}([-_][a-z]{1,12}){0,3}", fullmatch=True))
def test_lower_case_words_are_placeholders(value: str) -> None:
    assert is_placeholder(value)


@given(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=7), st.sampled_from("0123456789ABCXYZ")
)
def test_a_digit_or_a_capital_in_eight_characters_or_more_makes_a_secret(
    word: str, extra: str
) -> None:
    assert not is_placeholder(word + extra)
