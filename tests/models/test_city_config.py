"""A city's solver settings from its partition config: known keys of the right type."""

from __future__ import annotations

import pytest

from jarvis.errors import ConfigError
from jarvis.models import CityConfig, city_config


def test_a_partition_config_sets_the_city_settings_it_names() -> None:
    config = city_config(
        {"acceptance": True, "offer_timeout_s": 45, "reassign_max": 2, "pin": "m1", "weight": 3}
    )
    assert config == CityConfig(acceptance=True, offer_timeout_s=45.0, reassign_max=2)
    assert isinstance(config.offer_timeout_s, float)
    assert city_config({}) == CityConfig()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"acceptance": 1}, "acceptance: must be a boolean"),
        ({"reassign_max": 1.5}, "reassign_max: must be an integer"),
        ({"reassign_max": True}, "reassign_max: must be an integer"),
        ({"offer_timeout_s": "60"}, "offer_timeout_s: must be a number"),
        ({"offer_timeout_s": -1}, "offer_timeout_s: must be > 0"),
        ({"reassign_min_saving": float("nan")}, "reassign_min_saving: must be finite"),
    ],
)
def test_bad_city_settings_are_refused_with_their_name(
    config: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        city_config(config)
