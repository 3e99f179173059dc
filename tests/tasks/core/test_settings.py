from pydantic import SecretStr

from tasks.core.settings import DEFAULT_KEYWORDS, load_settings, reveal


def test_env_overrides_toml_and_secrets_are_masked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "stormborn.toml").write_text(
        'keyword_threshold = 7\nlake = "s3://from-toml/lake"\n[openreview]\nusername = "me"\n')
    monkeypatch.setenv("STORMBORN_LAKE", "s3://from-env/lake")
    monkeypatch.setenv("STORMBORN_OPENREVIEW__PASSWORD", "hunter2-secret")
    monkeypatch.setenv("STORMBORN_S3__SECRET_ACCESS_KEY", "aws-secret-value")
    s = load_settings()
    assert s.keyword_threshold == 7
    assert s.lake_url == "s3://from-env/lake"
    assert s.openreview.username == "me"
    assert isinstance(s.openreview.password, SecretStr)
    assert reveal(s.openreview.password) == "hunter2-secret"
    masked = str(s.masked())
    assert "hunter2-secret" not in masked and "aws-secret-value" not in masked
    assert "hunter2-secret" not in repr(s) and "hunter2-secret" not in str(s.model_dump())


def test_cli_overrides_win_and_defaults_are_documented(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STORMBORN_BATCH_SIZE", "9")
    s = load_settings(batch_size=3, lake=None)
    assert s.batch_size == 3
    assert s.lake_url.endswith(".stormborn/lake")
    assert s.keyword_threshold == 5 and "derivation" in DEFAULT_KEYWORDS


def test_config_file_named_by_env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "elsewhere.toml"
    cfg.write_text("batch_size = 11\n")
    monkeypatch.setenv("STORMBORN_CONFIG", str(cfg))
    assert load_settings().batch_size == 11


def test_a_budget_needs_a_price_for_every_model_it_would_pay_for():
    import pytest

    from tasks.core.settings import AGENTS, AgentSettings, LLMSettings

    LLMSettings(model="free-local").check_budget(AGENTS)  # no budget: nothing to enforce
    LLMSettings(model="gpt-4o-mini", budget_usd=1).check_budget(AGENTS)
    mixed = LLMSettings(model="gpt-4o-mini", budget_usd=1, agents={"answer_filter": AgentSettings(model="mystery")})
    assert mixed.unpriced(AGENTS) == ["mystery"]
    with pytest.raises(ValueError, match="mystery has none"):
        mixed.check_budget(AGENTS)
