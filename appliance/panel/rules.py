"""What the panel and the API do with the owner's rules and scenarios: read them, replace either list whole
(refused whole, every problem named, nothing changed), and dry-run a ticket through them
(``appliance.campaign.ruleset`` does the work; this binds it to the box's config store and shop)."""

from __future__ import annotations

from typing import Any

from appliance.campaign.ruleset import dry_run, replace_rules, replace_scenarios
from appliance.records.config_store import ConfigStore

__all__ = ["RulesAdmin"]


class RulesAdmin:
    def __init__(self, configs: ConfigStore, *, shop_name: str = "the shop", phone_region: str | None = None) -> None:
        self.configs = configs
        self.shop_name = shop_name
        self.phone_region = phone_region

    def _stored(self, key: str) -> list[dict[str, Any]]:
        stored = self.configs.decisions()
        return list(stored[key]) if stored is not None else []

    def rules(self) -> list[dict[str, Any]]:
        return self._stored("rules")

    def scenarios(self) -> list[dict[str, Any]]:
        return self._stored("scenarios")

    def set_rules(self, document: Any) -> list[dict[str, Any]]:
        return replace_rules(self.configs, document)

    def set_scenarios(self, document: Any) -> list[dict[str, Any]]:
        return replace_scenarios(self.configs, document)

    def test_ticket(self, payload: Any) -> dict[str, Any]:
        return dry_run(self.configs, payload, shop=self.shop_name, region=self.phone_region)
