import pytest


@pytest.fixture
def demo_chain_env(anvil, settings, tmp_path, monkeypatch):
    """What seed_demo needs, pointed at the test's own anvil, key file and offline chains."""
    settings.CHAIN_RPC_URLS = {**settings.CHAIN_RPC_URLS, "ETH": anvil.url}
    settings.HOT_KEYS_FILE = tmp_path / "hot_keys.json"
    monkeypatch.setenv("BTC_TEST_CHAIN_DIR", str(tmp_path / "btc"))
    monkeypatch.setenv("TRON_TEST_CHAIN_DIR", str(tmp_path / "tron"))
    from chains.hot_wallets import _key_file

    _key_file.cache_clear()
    yield
    _key_file.cache_clear()
