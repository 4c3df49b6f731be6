"""Random but realistic stations for a company on the reference network."""

from __future__ import annotations

import random

from booking.model import Station
from service.catalogs import stations
from service.company.context import Context

# DC fast chargers dominate highway corridors; a few AC points sit in town.
POWERS_KW = [
    (22, "Type2", 0.15),
    (50, "CCS2", 0.25),
    (60, "CCS2", 0.15),
    (120, "CCS2", 0.2),
    (150, "CCS2", 0.15),
    (180, "CCS2", 0.05),
    (350, "CCS2", 0.05),
]


def seed_company(
    ctx: Context,
    rng: random.Random,
    share: float = 0.6,
    places: list[str] | None = None,
    cover: tuple[int, int] | None = None,
) -> list[Station]:
    """Create stations at ``places`` (default: a random ``share`` of the network's places).

    ``cover = (k, n)``: also every k-th place of n (in the network's order), so that n companies
    seeded with k = 0 … n − 1 leave no place without a station: the demo's cars then find a
    charger wherever the roads allow their range. Each station has 1–6 connectors of 22–350 kW
    priced R$ 1.20–3.20 per kWh, cheaper for slow.
    """
    all_places = list(ctx.reference.network.places)
    chosen = (
        places
        if places is not None
        else [
            p
            for i, p in enumerate(all_places)
            if rng.random() < share or (cover is not None and i % cover[1] == cover[0])
        ]
    )
    made = []
    for place_id in chosen:
        for _ in range(1 if rng.random() < 0.8 else 2):
            power, standard, _w = rng.choices(POWERS_KW, weights=[w for *_, w in POWERS_KW])[0]
            connectors = [
                {
                    "power_kw": float(power),
                    "standard": standard,
                    "price_per_kwh": round(
                        1.2 + 2.0 * min(power, 350) / 350 * rng.uniform(0.6, 1.0), 2
                    ),
                }
                for _ in range(rng.randint(1, 6))
            ]
            made.append(stations.create_station(ctx, place_id, connectors))
    return made
