"""Random small planning problems and an independent brute-force solver for them."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime

from network.graph import Network, Place, Road
from planning import Car, Charger, ChargerConnector, TripRequest

DEPARTURE = datetime(2030, 6, 1, 8, tzinfo=UTC)
HORIZON = 3000.0
OVERHEAD = 5.0
SPEED = 80.0


def random_case(rng: random.Random):
    n_places = rng.randint(5, 12)
    pts = [(rng.uniform(0, 380), rng.uniform(0, 380)) for _ in range(n_places)]
    ids = [f"p{i}" for i in range(n_places)]
    places = {
        pid: Place(pid, pid.upper(), "XX", y / 100, x / 100)
        for pid, (x, y) in zip(ids, pts, strict=True)
    }

    def euclid(i, j):
        return math.dist(pts[i], pts[j])

    edges = {}
    # a spanning tree (Prim) keeps it connected, then each place joins its nearest neighbours
    inside = {0}
    while len(inside) < n_places:
        i, j = min(
            ((i, j) for i in inside for j in range(n_places) if j not in inside),
            key=lambda e: euclid(*e),
        )
        edges[(min(i, j), max(i, j))] = None
        inside.add(j)
    for i in range(n_places):
        near = sorted((j for j in range(n_places) if j != i), key=lambda j: euclid(i, j))
        for j in near[: rng.randint(1, 3)]:
            edges[(min(i, j), max(i, j))] = None
    roads = [
        Road(ids[i], ids[j], round(max(euclid(i, j), 5.0) * rng.uniform(1.05, 1.3), 1))
        for i, j in edges
    ]
    network = Network("test", places, roads)

    chargers = []
    for s in range(rng.randint(6, 15)):
        place = rng.choice(ids)
        company = rng.choice("abc")
        connectors = []
        for c in range(rng.randint(1, 3)):
            standard, power = rng.choice(
                [("Type2", 22.0), ("CCS2", 50.0), ("CCS2", 60.0), ("CCS2", 120.0), ("CCS2", 150.0)]
            )
            connectors.append(
                ChargerConnector(
                    f"s{s}-c{c}",
                    power,
                    round(rng.uniform(1, 3), 2),
                    standard,
                    random_free_windows(rng),
                )
            )
        chargers.append(Charger(f"s{s}", company, place, connectors))
    car = Car(
        battery_kwh=rng.choice([40.0, 50.0, 60.0, 75.0]),
        consumption_kwh_per_km=rng.uniform(0.15, 0.22),
        max_charge_kw=rng.choice([50.0, 80.0, 150.0]),
        max_ac_kw=rng.choice([6.6, 11.0]),
    )
    # a long trip: the farthest apart of a few random pairs (straight-line)
    o, d = max((rng.sample(range(n_places), 2) for _ in range(4)), key=lambda e: euclid(*e))
    o, d = ids[o], ids[d]
    req = TripRequest(
        o,
        d,
        DEPARTURE,
        car,
        soc=rng.uniform(0.3, 0.95),
        reserve_soc=rng.choice([0.05, 0.1, 0.15]),
        arrival_soc=rng.choice([None, None, 0.2]),
        options=3,
    )
    return network, chargers, req


def random_free_windows(rng: random.Random) -> list[tuple[float, float]]:
    roll = rng.random()
    if roll < 0.08:
        return []  # fully booked
    if roll < 0.4:
        return [(0.0, HORIZON)]
    busy = sorted(
        (b, b + rng.uniform(20, 240))
        for b in (rng.uniform(0, 900) for _ in range(rng.randint(1, 6)))
    )
    free, cursor = [], 0.0
    for s, e in busy:
        if s > cursor:
            free.append((cursor, s))
        cursor = max(cursor, e)
    if cursor < HORIZON:
        free.append((cursor, HORIZON))
    return free


# ---- an independent solver: its own distances, charging formula and exhaustive search -----


def floyd(network: Network) -> dict:
    ids = list(network.places)
    d = {(a, b): (0.0 if a == b else math.inf) for a in ids for b in ids}
    for r in network.roads:
        d[(r.a, r.b)] = min(d[(r.a, r.b)], r.km)
        d[(r.b, r.a)] = min(d[(r.b, r.a)], r.km)
    for k in ids:
        for a in ids:
            for b in ids:
                if d[(a, k)] + d[(k, b)] < d[(a, b)]:
                    d[(a, b)] = d[(a, k)] + d[(k, b)]
    return d


def minutes_from_empty(soc, battery, power):
    # p = P up to 80 %, then P * (1 - 3.75 (s - 0.8)); integrate B / p ds
    flat = min(soc, 0.8)
    over = min(max(soc - 0.8, 0.0), 0.2)
    return (flat + (-math.log(1 - 3.75 * over) / 3.75)) * battery / power * 60


def _power_of(car, conn) -> float:
    car_kw = car.max_ac_kw if conn.standard == "Type2" else car.max_charge_kw
    return min(conn.power_kw, car_kw)


def _earliest(t, occ, windows) -> float:
    for ws, we in windows:
        s = max(t, ws)
        if s + occ <= we + 1e-9:
            return s
    return math.inf


def _charges(car, charger: Charger, t: float, soc: float, need: float):
    """Every (target, connector, end of the stop) of the decision space at a charger reached at
    ``t`` with ``soc``, for a next hop that needs ``need``: charge just enough, or to 80 %, or to
    100 %, on any connector with a free window long enough."""
    for target in _targets(soc, need):
        for conn, end in _charges_to(car, charger, t, soc, target):
            yield target, conn, end


def _targets(soc: float, need: float) -> set[float]:
    """The charge targets of the decision space for a next hop that needs ``need``."""
    return {
        target
        for target in (need, 0.8, 1.0)
        if not (target < need - 1e-9 or target <= soc + 1e-9 or target > 1.0 + 1e-9)
    }


def _charges_to(car, charger: Charger, t: float, soc: float, target: float) -> list:
    """(connector, end of the stop) for each connector with a free window long enough to
    charge from ``soc`` to ``target`` from ``t`` on."""
    out = []
    for conn in charger.connectors:
        pw = _power_of(car, conn)
        occ = (
            minutes_from_empty(target, car.battery_kwh, pw)
            - minutes_from_empty(soc, car.battery_kwh, pw)
        ) + OVERHEAD
        s = _earliest(t, occ, conn.free)
        if math.isfinite(s):
            out.append((conn, s + occ))
    return out


def _moves(d, car, k, final, req, chargers, index, t, soc, used):
    """From charger ``index`` (reached at ``t`` with ``soc``): every next hop — the destination
    or an unused charger at another place — with every charge of the decision space that makes it possible:
    (next charger or None, charge target, connector, arrival there, charge on arrival)."""
    ch = chargers[index]
    nexts = [(None, req.destination, final)] + [
        (j, c.place_id, req.reserve_soc)
        for j, c in enumerate(chargers)
        if j not in used and c.place_id != ch.place_id
    ]
    for j, place, reserve in nexts:
        km = d[(ch.place_id, place)]
        need = reserve + km * k
        if need > 1.0 + 1e-9:
            continue
        for target, conn, end in _charges(car, ch, t, soc, need):
            yield j, target, conn, end + km / SPEED * 60, target - km * k


def _trip(network: Network, req: TripRequest):
    """Distances, car, state of charge per km and the charge required on arrival."""
    return (
        floyd(network),
        req.car,
        req.car.consumption_kwh_per_km / req.car.battery_kwh,
        req.final_soc,
    )


def brute_force_fastest(network: Network, chargers: list[Charger], req: TripRequest) -> float:
    """The minimum total trip time over every sequence of distinct chargers, every connector and
    every charge target of the planner's decision space: at a stop, charge just enough for the
    next hop, or to 80 %, or to 100 %; the next stop is at another place (a place's stations are
    one node of the planner, docs/planning.md "Search": a stop does not go on at the station
    across the street). Branch and bound on elapsed time only, which is exact."""
    d, car, k, final = _trip(network, req)
    best = [math.inf]
    seen: dict[int, list] = {}

    # Exact pruning 1: chargers from which the destination cannot be reached even on a full
    # battery through chargers that have any free window are dead ends.
    open_ = [i for i, ch in enumerate(chargers) if any(c.free for c in ch.connectors)]
    can_finish = {
        i for i in open_ if final + d[(chargers[i].place_id, req.destination)] * k <= 1.0 + 1e-9
    }
    grew = True
    while grew:
        grew = False
        for i in open_:
            if i not in can_finish and any(
                req.reserve_soc + d[(chargers[i].place_id, chargers[j].place_id)] * k <= 1.0 + 1e-9
                for j in can_finish
            ):
                can_finish.add(i)
                grew = True
    p_max = max((_power_of(car, c) for ch in chargers for c in ch.connectors), default=1.0)

    def hops(place, used, from_a_stop=True):
        yield None, req.destination, final
        for j, ch in enumerate(chargers):
            if j not in used and not (from_a_stop and ch.place_id == place):
                yield j, ch.place_id, req.reserve_soc

    def arrive(index, t, soc, used):
        """At charger ``index`` (None: the destination) at time t with charge soc."""
        if index is not None and index not in can_finish:
            return
        # exact pruning 3: an earlier arrival here with more charge and fewer chargers used can
        # do everything this one can
        if index is not None:
            front = seen.setdefault(index, [])
            for t2, s2, u2 in front:
                if t2 <= t + 1e-9 and s2 >= soc - 1e-9 and u2 <= used:
                    return
            # what this arrival dominates leaves the front: whatever it would have pruned,
            # this one prunes too (the relation is transitive), so the search stays exact
            front[:] = [
                (t2, s2, u2) for t2, s2, u2 in front if not (t <= t2 and soc >= s2 and used <= u2)
            ]
            front.append((t, soc, used))
        here = req.destination if index is None else chargers[index].place_id
        km = d[(here, req.destination)]
        deficit = max(0.0, final + km * k - soc) * car.battery_kwh
        # exact pruning 2: a lower bound of what remains (drive, and charge at the best power)
        if t + km / SPEED * 60 + deficit / p_max * 60 >= best[0]:
            return
        if index is None:
            best[0] = t
            return
        ch = chargers[index]
        # charging to 80 % or 100 % here does not depend on the next hop: sized once
        fixed = {target: _charges_to(car, ch, t, soc, target) for target in (0.8, 1.0)}
        for j, place, reserve in hops(ch.place_id, used | {index}):
            km = d[(ch.place_id, place)]
            need = reserve + km * k
            if need > 1.0 + 1e-9:
                continue
            for target in _targets(soc, need):
                charges = fixed.get(target)
                if charges is None:
                    charges = _charges_to(car, ch, t, soc, target)
                for _conn, end in charges:
                    arrive(j, end + km / SPEED * 60, target - km * k, used | {index})

    for j, place, reserve in hops(req.origin, frozenset(), from_a_stop=False):
        km = d[(req.origin, place)]
        if req.soc - km * k >= reserve - 1e-9:
            arrive(j, km / SPEED * 60, req.soc - km * k, frozenset())
    return best[0]


def brute_force_cheapest(
    network: Network, chargers: list[Charger], req: TripRequest, time_cap: float
) -> float:
    """The minimum cost (R$) over the same decision space among plans that arrive within
    ``time_cap`` minutes. Branch and bound on cost; an arrival is dropped when another at the
    same charger was earlier, fuller, cheaper and used no more chargers."""
    d, car, k, final = _trip(network, req)
    best = [math.inf]
    seen: dict[int, list] = {}
    efficiency = 0.92

    p_max = max((_power_of(car, c) for ch in chargers for c in ch.connectors), default=1.0)
    price_min = min((c.price_per_kwh for ch in chargers for c in ch.connectors), default=0.0)

    def arrive(index, t, soc, cost, used):
        here = req.destination if index is None else chargers[index].place_id
        km = d[(here, req.destination)]
        deficit = max(0.0, final + km * k - soc) * car.battery_kwh
        if t + km / SPEED * 60 + deficit / p_max * 60 > time_cap + 1e-9:
            return
        if cost + deficit / efficiency * price_min >= best[0]:
            return
        if index is None:
            best[0] = cost
            return
        front = seen.setdefault(index, [])
        if any(
            t2 <= t + 1e-9 and s2 >= soc - 1e-9 and c2 <= cost + 1e-9 and u2 <= used
            for t2, s2, c2, u2 in front
        ):
            return
        front.append((t, soc, cost, used))
        for j, target, conn, t_next, soc_next in _moves(
            d, car, k, final, req, chargers, index, t, soc, used
        ):
            paid = (target - soc) * car.battery_kwh / efficiency * conn.price_per_kwh
            arrive(j, t_next, soc_next, cost + paid, used | {index})

    if req.soc - d[(req.origin, req.destination)] * k >= final - 1e-9:
        arrive(
            None,
            d[(req.origin, req.destination)] / SPEED * 60,
            req.soc - d[(req.origin, req.destination)] * k,
            0.0,
            frozenset(),
        )
    for j, ch in enumerate(chargers):
        km = d[(req.origin, ch.place_id)]
        if req.soc - km * k >= req.reserve_soc - 1e-9:
            arrive(j, km / SPEED * 60, req.soc - km * k, 0.0, frozenset())
    return best[0]


def brute_force_fewest_stops(network: Network, chargers: list[Charger], req: TripRequest) -> float:
    """The fewest charging stops of any plan of the same decision space (time unbounded within
    the windows). Depth-first with bound on stops; an arrival at a charger is dropped when
    another there was no later, no emptier and used no more chargers."""
    d, car, k, final = _trip(network, req)
    best = [math.inf]
    seen: dict[int, list] = {}

    def arrive(index, t, soc, used):
        stops = len(used) + (index is not None)
        if stops >= best[0] and index is not None:
            return
        if index is None:
            best[0] = min(best[0], len(used))
            return
        front = seen.setdefault(index, [])
        if any(
            t2 <= t + 1e-9 and s2 >= soc - 1e-9 and len(u2) <= len(used) for t2, s2, u2 in front
        ):
            return
        front.append((t, soc, used))
        for j, _target, _conn, t_next, soc_next in _moves(
            d, car, k, final, req, chargers, index, t, soc, used
        ):
            arrive(j, t_next, soc_next, used | {index})

    if req.soc - d[(req.origin, req.destination)] * k >= final - 1e-9:
        return 0
    for j, ch in enumerate(chargers):
        km = d[(req.origin, ch.place_id)]
        if req.soc - km * k >= req.reserve_soc - 1e-9:
            arrive(j, km / SPEED * 60, req.soc - km * k, frozenset())
    return best[0]
