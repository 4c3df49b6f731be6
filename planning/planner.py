"""Charging-stop planning as a label-setting A* search over (place, time, state of charge).

Nodes are the origin, every candidate charger and the destination. A label is an arrival at a
node: (time, state of charge, objective so far). From a charger, a transition charges to a
target and drives to another node; the target is either just what that node needs (keeping the
reserve on arrival), or 80 % (the end of the constant-power phase), or 100 %. Charging waits
for the earliest free window of the connector that lets the car leave soonest (or, when price
counts, of each connector not both later and dearer than another). Labels are pruned
by Pareto dominance (objective, time, charge) and ordered by objective + an admissible lower
bound of what remains, so the first label to reach the destination is optimal for the objective.
See docs/planning.md.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from network.distances import RoadDistances
from network.graph import Network
from planning.charging import EFFICIENCY, charge_minutes, effective_power_kw
from planning.model import Charger, Option, PlanResult, Stop, TripRequest

EPS = 1e-9
TARGETS = (0.8, 1.0)


#: A stop as a label keeps it: the connector's index among its place's, the charge target, the
#: window's start and end, the minutes of charge, the kWh and the cost.
StopRow = tuple[int, float, float, float, float, float, float]


@dataclass(frozen=True)
class Objective:
    """objective = time·minutes + stops·per_stop + cost·BRL."""

    label: str
    time: float = 1.0
    stops: float = 0.0
    cost: float = 0.0


FASTEST = Objective("fastest")
FEWEST_STOPS = Objective("fewest stops", time=1.0, stops=10_000.0)
CHEAPEST = Objective("cheapest", time=0.001, cost=1.0)
CHEAPEST_SLACK = 0.25  # the cheapest option may be at most this much slower than the fastest
MIN_SAVING = 0.05  # same stops as another option: shown as cheapest only when this much cheaper
# The alternatives are searched with an inflated bound (weighted A*): the objective found is at
# most 5 % above the optimum (measured: the cheapest option a median 0.8 % dearer than exact at
# 20,000 stations), in a few ms instead of ~150 ms — prices vary a little everywhere, so an
# exact cheapest search wanders over a plateau.
ALTERNATIVE_WEIGHT = 1.05
ALTERNATIVE_FALLBACK_WEIGHT = 2.0
ALTERNATIVE_BUDGET = 250  # label expansions before falling back to the coarser weight
# Equally fast, equally dear: within these of each other (float sums of the same minutes differ
# by far less), for the rules options are offered by (``_offer``).
SAME_TIME_MIN = 1e-6
SAME_COST = 0.005  # R$: half a centavo


class ChargerSet:
    """The chargers a planner works over, prepared once: grouped by place, with the figures the
    search's bound needs. Build one per snapshot of stations and plan many trips over it (the
    free windows are read only where the search stops)."""

    def __init__(self, chargers: list[Charger]):
        self.chargers = [c for c in chargers if c.connectors]
        by_place: dict[str, list[int]] = {}
        for i, c in enumerate(self.chargers):
            by_place.setdefault(c.place_id, []).append(i)
        self.places = list(by_place)
        self.groups = list(by_place.values())
        self.summary = (
            np.array([c.summary for c in self.chargers]) if self.chargers else np.zeros((0, 3))
        )  # per charger: best DC kW, best AC kW, cheapest
        self._without: dict[frozenset[str], ChargerSet] = {}

    def without(self, companies: Iterable[str]) -> ChargerSet:
        """The same snapshot less some companies' stations (kept: trips ask for it again)."""
        key = frozenset(companies)
        got = self._without.get(key)
        if got is None:
            got = self._without[key] = ChargerSet(
                [c for c in self.chargers if c.company not in key]
            )
        return got


class _Problem:
    """Everything the search needs, as arrays indexed by node: 0 the origin, 1..n the places
    that have chargers (all stations of one place are one node: they share every distance), n+1
    the destination."""

    def __init__(self, charger_set: ChargerSet, req: TripRequest, distances: RoadDistances):
        self.req = req
        self.car = req.car
        self.k = req.car.soc_per_km()
        self.max_range_km = (1.0 - req.reserve_soc) / self.k
        self.chargers = charger_set.chargers
        self.groups = charger_set.groups
        n = len(self.groups)
        self.n = n
        self.dest = n + 1
        places = [req.origin, *charger_set.places, req.destination]
        self.places = places
        self.distances = distances
        col = np.array([distances.index[p] for p in places])
        self.columns = col
        self._rows: dict[str, np.ndarray] = {}  # place -> distances to every node, within range
        self._reach: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        to_dest = distances.row(req.destination)
        self.d_dest = to_dest[col]
        self.reserve_at = np.full(n + 2, req.reserve_soc)
        self.reserve_at[self.dest] = req.final_soc
        # per place, connector arrays are built when the search first charges there
        self._connectors: dict[int, _Connectors] = {}
        summary = charger_set.summary
        if len(summary):
            self.best_power = float(
                max(
                    np.minimum(summary[:, 0], self.car.max_charge_kw).max(),
                    np.minimum(summary[:, 1], self.car.max_ac_kw).max(),
                )
            )
            cheapest = float(summary[:, 2].min())
            self.min_price = 0.0 if math.isinf(cheapest) else cheapest
        else:
            self.best_power, self.min_price = 0.0, 0.0

    def connectors(self, c: int) -> _Connectors:
        """The usable connectors of the stations at charging node ``c + 1``."""
        got = self._connectors.get(c)
        if got is None:
            owners, powers, prices, windows = [], [], [], []
            for i in self.groups[c]:
                for j, x in enumerate(self.chargers[i].connectors):
                    power = effective_power_kw(
                        x.power_kw, x.standard, self.car.max_charge_kw, self.car.max_ac_kw
                    )
                    if power > 0:
                        owners.append((i, j))
                        powers.append(power)
                        prices.append(x.price_per_kwh)
                        windows.append(x.free)
            # cheapest first: where several end a charge at the same moment (twins: the same
            # power, free then), the fastest search's first minimum is the cheapest of them
            order = sorted(range(len(prices)), key=prices.__getitem__)
            got = self._connectors[c] = _Connectors(
                np.array([powers[i] for i in order]),
                np.array([prices[i] for i in order]),
                *_padded([windows[i] for i in order]),
                [owners[i] for i in order],
            )
        return got

    def row(self, node: int) -> np.ndarray:
        """Road distances (km) from ``node`` to every node, inf beyond the car's full range.

        Computed when the search first leaves that place (one bounded Dijkstra), not up front:
        a search visits a small share of the places, and a full matrix of 20,000 chargers
        would take gigabytes and seconds.
        """
        place = self.places[node]
        row = self._rows.get(place)
        if row is None:
            full = self.distances.row(place, self.max_range_km + EPS)
            row = self._rows[place] = full[self.columns]
        return row

    def reach(self, node: int) -> tuple[np.ndarray, np.ndarray]:
        """The nodes within full range of ``node`` (not the origin, not itself) and their km."""
        got = self._reach.get(node)
        if got is None:
            row = self.row(node)
            vs = np.flatnonzero(np.isfinite(row))
            vs = vs[(vs != node) & (vs != 0)]
            got = self._reach[node] = (vs, row[vs])
        return got

    def heuristics(self, nodes: np.ndarray, soc: np.ndarray, obj: Objective) -> np.ndarray:
        """``heuristic`` for many arrivals at once."""
        req = self.req
        km = self.d_dest[nodes]
        drive = km / req.speed_kmh * 60.0
        energy = np.maximum((req.final_soc + km * self.k - soc) * self.car.battery_kwh, 0.0)
        is_charger = (nodes >= 1) & (nodes <= self.n)
        per_stop = (1.0 - req.reserve_soc) * self.car.battery_kwh
        stops = np.maximum(is_charger.astype(float), np.ceil(energy / per_stop - EPS))
        with np.errstate(divide="ignore", invalid="ignore"):
            charge = (
                energy / self.best_power * 60.0
                if self.best_power > 0
                else np.where(energy > EPS, np.inf, 0.0)
            )
        h = (
            obj.time * (drive + charge + stops * req.stop_overhead_min)
            + obj.stops * stops
            + obj.cost * energy / EFFICIENCY * self.min_price
        )
        plain = (energy <= EPS) & ~is_charger
        h = np.where(plain, obj.time * drive, h)
        if self.best_power <= 0:
            h = np.where(plain, h, np.inf)
        h = np.where(np.isfinite(km), h, np.inf)
        return np.where(nodes == self.dest, 0.0, h)

    def node_distances(self, limit_km: float = math.inf) -> np.ndarray:
        """Road distances between nodes (one Dijkstra per distinct place); inf past the limit."""
        unique = list(dict.fromkeys(self.places))
        rows = self.distances.from_places(unique, limit_km=limit_km)
        pos = {place: i for i, place in enumerate(unique)}
        return rows[[pos[x] for x in self.places]][:, self.columns]

    def heuristic(self, node: int, soc: float, obj: Objective) -> float:
        """A lower bound of the objective still to pay from an arrival at ``node``."""
        if node == self.dest:
            return 0.0
        req = self.req
        km = float(self.d_dest[node])
        if not math.isfinite(km):
            return math.inf
        drive = km / req.speed_kmh * 60.0
        need = (req.final_soc + km * self.k - soc) * self.car.battery_kwh
        is_charger = 1 <= node <= self.n
        if need <= EPS and not is_charger:
            return obj.time * drive
        if self.best_power <= 0:
            return math.inf
        energy = max(need, 0.0)
        stops = max(
            1 if is_charger else 0,
            math.ceil(energy / ((1.0 - req.reserve_soc) * self.car.battery_kwh) - EPS),
        )
        charge = energy / self.best_power * 60.0
        return (
            obj.time * (drive + charge + stops * req.stop_overhead_min)
            + obj.stops * stops
            + obj.cost * energy / EFFICIENCY * self.min_price
        )


@dataclass(frozen=True)
class _Connectors:
    """The connectors of one charging node as arrays: effective kW, price per kWh, free windows
    as (connector × window) starts and ends (padded with empty windows), and for each the
    (charger, connector) indices it came from."""

    power: np.ndarray
    price: np.ndarray
    free_start: np.ndarray
    free_end: np.ndarray
    owners: list[tuple[int, int]]


def _padded(windows: list[list[tuple[float, float]]]) -> tuple[np.ndarray, np.ndarray]:
    """(connector × window) starts and ends, padded with empty windows (inf, -inf). Built as
    Python lists and turned into arrays once: a place may have hundreds of connectors."""
    width = max((len(w) for w in windows), default=0)
    if width == 0:
        return np.full((len(windows), 0), np.inf), np.full((len(windows), 0), -np.inf)
    starts = [[s for s, _ in free] + [math.inf] * (width - len(free)) for free in windows]
    ends = [[e for _, e in free] + [-math.inf] * (width - len(free)) for free in windows]
    return np.array(starts, dtype=float), np.array(ends, dtype=float)


def _earliest_starts(
    t_arrive: float, occupancy: np.ndarray, free_start: np.ndarray, free_end: np.ndarray
) -> np.ndarray:
    """(connector × transition) earliest start ≥ t_arrive of an ``occupancy`` (connector ×
    transition, minutes) inside one free window of that connector; inf when none fits."""
    starts = np.maximum(free_start, t_arrive)[:, None, :]
    fits = starts + occupancy[:, :, None] <= free_end[:, None, :] + EPS
    earliest: np.ndarray = np.where(fits, starts, np.inf).min(axis=2, initial=np.inf)
    return earliest


def _useful_connectors(
    end: np.ndarray, price: np.ndarray, priced: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Which (connector, transition) pairs deserve a label, given when each would end (connector
    × transition) and each connector's price: when only time counts, the earliest end (the
    cheapest of those ending as early: connectors come cheapest first); when price
    counts too, every connector that ends strictly earlier than all cheaper ones (the others are
    dominated: later and no cheaper). Returns (connector indices, transition indices)."""
    if not priced:  # connectors come cheapest first: the first earliest is the cheapest twin
        pick = np.argmin(end, axis=0)
        m = np.flatnonzero(np.isfinite(end[pick, np.arange(end.shape[1])]))
        return pick[m], m
    order = np.argsort(price, kind="stable")
    ends = end[order]
    earlier = np.minimum.accumulate(ends, axis=0)
    cheaper_best = np.vstack([np.full((1, ends.shape[1]), np.inf), earlier[:-1]])
    rank, m = np.nonzero((ends < cheaper_best - EPS) & np.isfinite(ends))
    return order[rank], m


class _OverBudget(Exception):
    pass


def _search(
    p: _Problem,
    obj: Objective,
    allowed: np.ndarray,
    time_cap: float = math.inf,
    weight: float = 1.0,
    budget: int | None = None,
) -> Option | None:
    """A* over labels with *lazy successor insertion*: an expansion computes all successors
    with numpy, sorts them by f = objective + bound, and puts them into the heap one at a time,
    each when the heap reaches its f. Successors past the optimum are never inserted, so the
    Pareto bookkeeping (the Python part) only ever sees the few that could matter."""
    req, car = p.req, p.car
    B = car.battery_kwh
    L_node, L_t, L_soc, L_obj, L_stops, L_parent, L_stop = [], [], [], [], [], [], []
    fronts: dict[int, list[tuple[float, float, float]]] = {}
    batches: list[tuple[Any, ...]] = []
    heap: list[tuple[Any, ...]] = []
    tie = itertools.count()

    def dominated(node: int, t: float, soc: float, objective: float) -> bool:
        for o2, t2, s2 in fronts.get(node, ()):
            if o2 <= objective + EPS and t2 <= t + EPS and s2 >= soc - EPS:
                return True
        return False

    def push(
        node: int,
        t: float,
        soc: float,
        objective: float,
        stops: int,
        parent: int,
        stop: StopRow | None,
        f: float,
    ) -> None:
        if dominated(node, t, soc, objective):
            return
        front = fronts.setdefault(node, [])
        front[:] = [
            (o2, t2, s2)
            for o2, t2, s2 in front
            if not (objective <= o2 + EPS and t <= t2 + EPS and soc >= s2 - EPS)
        ]
        front.append((objective, t, soc))
        L_node.append(node)
        L_t.append(t)
        L_soc.append(soc)
        L_obj.append(objective)
        L_stops.append(stops)
        L_parent.append(parent)
        L_stop.append(stop)
        # ties: prefer labels nearer the destination, so a solution is found early
        heapq.heappush(heap, (f, p.d_dest[node], next(tie), len(L_node) - 1))

    def batch(
        parent: int,
        v: np.ndarray,
        arrive: np.ndarray,
        soc: np.ndarray,
        objective: np.ndarray,
        stops: int,
        stop_rows: np.ndarray | None,
    ) -> None:
        """Queue the successors of ``parent``; they enter the heap in order of f."""
        f = objective + weight * p.heuristics(v, soc, obj)
        keep = np.isfinite(f)
        if math.isfinite(time_cap):  # no arrival that cannot finish within the cap
            keep &= arrive + p.heuristics(v, soc, FASTEST) <= time_cap + EPS
        if not keep.any():
            return
        order = np.flatnonzero(keep)[np.argsort(f[keep], kind="stable")]
        batches.append(
            (
                parent,
                v[order],
                arrive[order],
                soc[order],
                objective[order],
                stops,
                None if stop_rows is None else stop_rows[order],
                f[order],
            )
        )
        bid = len(batches) - 1
        heapq.heappush(heap, (float(f[order[0]]), -1.0, next(tie), -bid - 1, 0))

    push(0, 0.0, req.soc, 0.0, 0, -1, None, p.heuristic(0, req.soc, obj))
    while heap:
        entry = heapq.heappop(heap)
        if entry[3] < 0:  # the next successor of a batch enters the search
            bid, i = -entry[3] - 1, entry[4]
            parent, v, arrive, soc, objective, stops, rows, f = batches[bid]
            stop: StopRow | None = None
            if rows is not None:  # connector, target, start, end, charge minutes, kWh, cost
                r = rows[i]
                stop = (
                    int(r[0]),
                    float(r[1]),
                    float(r[2]),
                    float(r[3]),
                    float(r[4]),
                    float(r[5]),
                    float(r[6]),
                )
            push(
                int(v[i]),
                float(arrive[i]),
                float(soc[i]),
                float(objective[i]),
                stops,
                parent,
                stop,
                float(f[i]),
            )
            if i + 1 < len(v):
                heapq.heappush(heap, (float(f[i + 1]), -1.0, next(tie), entry[3], i + 1))
            continue
        lid = entry[3]
        u, t_u, soc_u, obj_u = L_node[lid], L_t[lid], L_soc[lid], L_obj[lid]
        if (obj_u, t_u, soc_u) not in fronts.get(u, ()):
            continue  # dominated after it was pushed
        if budget is not None:
            budget -= 1
            if budget < 0:
                raise _OverBudget
        if u == p.dest:
            return _option(p, obj, lid, L_node, L_t, L_soc, L_parent, L_stop)
        vs, kms = p.reach(u)
        ok = allowed[vs]
        vs, kms = vs[ok], kms[ok]
        need = p.reserve_at[vs] + kms * p.k
        if u == 0:  # leave the origin with the charge the car has
            fits = need <= soc_u + EPS
            reach, km = vs[fits], kms[fits]
            minutes = km / req.speed_kmh * 60.0
            batch(lid, reach, t_u + minutes, soc_u - km * p.k, obj_u + obj.time * minutes, 0, None)
            continue
        # transitions from a charger: (successor, target) pairs
        vv, tt, kk = [], [], []
        just = (need > soc_u + EPS) & (need <= 1.0 + EPS)
        vv.append(vs[just])
        kk.append(kms[just])
        tt.append(np.minimum(need[just], 1.0))
        for target in TARGETS:
            if target > soc_u + EPS:
                more = need < target - EPS
                vv.append(vs[more])
                kk.append(kms[more])
                tt.append(np.full(int(more.sum()), target))
        vv_a = np.concatenate(vv)
        if vv_a.size == 0:
            continue
        tt_a = np.concatenate(tt)
        kk_a = np.concatenate(kk)
        c = u - 1
        conns = p.connectors(c)
        if conns.power.size == 0:
            continue
        # every connector × charge target at once; the targets 80 % and 100 % recur for every
        # successor and schedule the same, so each distinct target is scheduled once
        targets, of_target = np.unique(tt_a, return_inverse=True)
        unit = charge_minutes(soc_u, targets, B, 1.0)
        cmin_t = unit[None, :] / conns.power[:, None]
        occ = cmin_t + req.stop_overhead_min
        start_t = _earliest_starts(t_u, occ, conns.free_start, conns.free_end)
        end = (start_t + occ)[:, of_target]
        conn_f, m = _useful_connectors(end, conns.price, priced=obj.cost > 0)
        if m.size == 0:
            continue
        v_f, t_f, end_f, km = vv_a[m], tt_a[m], end[conn_f, m], kk_a[m]
        start_f, cmin_f = start_t[conn_f, of_target[m]], cmin_t[conn_f, of_target[m]]
        energy = (t_f - soc_u) * B
        cost = energy / EFFICIENCY * conns.price[conn_f]
        arrive = end_f + km / req.speed_kmh * 60.0
        objective = obj_u + obj.time * (arrive - t_u) + obj.stops + obj.cost * cost
        rows = np.column_stack([conn_f, t_f, start_f, end_f, cmin_f, energy, cost])
        batch(lid, v_f, arrive, t_f - km * p.k, objective, L_stops[lid] + 1, rows)
    return None


def _option(
    p: _Problem,
    obj: Objective,
    lid: int,
    L_node: list[int],
    L_t: list[float],
    L_soc: list[float],
    L_parent: list[int],
    L_stop: list[StopRow | None],
) -> Option:
    chain = []
    while lid != -1:
        chain.append(lid)
        lid = L_parent[lid]
    chain.reverse()
    stops: list[Stop] = []
    nodes = [L_node[i] for i in chain]
    for prev, cur in itertools.pairwise(chain):
        stop = L_stop[cur]
        if stop is None:
            continue
        j, target, start, end, cmin, energy, cost = stop
        u = L_node[prev]
        conns = p.connectors(u - 1)
        ci, cj = conns.owners[j]
        charger = p.chargers[ci]
        conn = charger.connectors[cj]
        before = L_node[L_parent[prev]] if L_parent[prev] != -1 else 0
        stops.append(
            Stop(
                station_id=charger.station_id,
                company=charger.company,
                place_id=charger.place_id,
                connector_id=conn.connector_id,
                power_kw=float(conns.power[j]),
                arrival_min=L_t[prev],
                soc_arrival=L_soc[prev],
                soc_target=target,
                wait_min=start - L_t[prev],
                charge_min=cmin,
                start_min=start,
                end_min=end,
                energy_kwh=energy,
                cost=cost,
                km_from_previous=float(p.row(before)[u]),
            )
        )
    last = chain[-1]
    total = L_t[last]
    distance = float(sum(p.row(a)[b] for a, b in itertools.pairwise(nodes)))
    drive = distance / p.req.speed_kmh * 60.0
    return Option(
        label=obj.label,
        stops=stops,
        route=[p.places[n] for n in nodes],
        distance_km=distance,
        drive_min=drive,
        charge_min=sum(s.charge_min for s in stops),
        wait_min=sum(s.wait_min for s in stops),
        total_min=total,
        cost=sum(s.cost for s in stops),
        soc_arrival=L_soc[last],
    )


def plan(
    network: Network,
    chargers: list[Charger] | ChargerSet,
    req: TripRequest,
    distances: RoadDistances | None = None,
) -> PlanResult:
    """Up to ``req.options`` ranked, genuinely different options, or the reason there are none.

    ``chargers`` may be a prepared ``ChargerSet`` (to plan many trips over one snapshot)."""
    places = network.places
    for name in (req.origin, req.destination):
        if name not in places:
            return PlanResult([], f"unknown place {name!r}")
    if req.origin == req.destination:
        return PlanResult(
            [Option("already there", [], [req.origin], 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, req.soc)]
        )
    distances = distances or RoadDistances(network)
    usable = chargers if isinstance(chargers, ChargerSet) else ChargerSet(chargers)
    if req.avoid_companies:
        usable = usable.without(req.avoid_companies)
    p = _Problem(usable, req, distances)
    if not np.isfinite(p.d_dest[0]):
        return PlanResult(
            [], f"no road connects {places[req.origin].name} and {places[req.destination].name}"
        )
    if req.soc < req.reserve_soc - EPS:
        return PlanResult(
            [], f"the car starts at {req.soc:.0%}, below the {req.reserve_soc:.0%} reserve"
        )
    everyone = np.ones(p.n + 2, dtype=bool)
    fastest = _search(p, FASTEST, everyone)
    if fastest is None:
        return PlanResult([], _why_infeasible(p, network))
    options = [fastest]
    # the cheapest plan is sought among plans at most CHEAPEST_SLACK slower than the fastest:
    # nobody wants a plan twice as long to save a few reais, and without a cap the search
    # wanders over every cheap charger of the map
    cap = fastest.total_min * (1.0 + CHEAPEST_SLACK)
    wanted: list[tuple[Objective, str | None, float, float]] = [
        (FEWEST_STOPS, None, math.inf, ALTERNATIVE_WEIGHT),
        (CHEAPEST, None, cap, ALTERNATIVE_WEIGHT),
    ]
    busiest = _busiest_company(fastest)
    if busiest is not None:
        wanted.append(
            (Objective(f"avoids company {busiest}"), busiest, math.inf, ALTERNATIVE_WEIGHT)
        )
    found: list[tuple[Option, Objective]] = [(fastest, FASTEST)]
    for objective, avoided, time_cap, weight in wanted:
        if len(options) >= req.options:
            break
        q = p if avoided is None else _Problem(usable.without({avoided}), req, distances)
        option = _alternative(q, objective, np.ones(q.n + 2, dtype=bool), time_cap, weight)
        if option is not None:
            found.append((option, objective))
            options = _offer(found)
    for option in options:  # full road route, place by place; every leg is within range
        option.route = _expand_route(distances, option.route, p.max_range_km + 1.0)
    return PlanResult(options[: req.options])


def _alternative(
    p: _Problem, objective: Objective, allowed: np.ndarray, time_cap: float, weight: float
) -> Option | None:
    """A secondary option within a bounded effort: the weighted search first, then a coarser
    one when the first meets too many labels; None if both give up (the option is skipped)."""
    for w in (weight, ALTERNATIVE_FALLBACK_WEIGHT):
        try:
            return _search(p, objective, allowed, time_cap, w, budget=ALTERNATIVE_BUDGET)
        except _OverBudget:
            continue
    return None


def _different(option: Option, options: list[Option], objective: Objective) -> bool:
    """Other stops, or (for a price objective) the same stops charging less for a real saving:
    "charge only what the trip needs" is an option a driver wants to see."""
    for other in options:
        if other.signature() == option.signature() and not (
            objective.cost > 0 and option.cost < other.cost * (1.0 - MIN_SAVING)
        ):
            return False
    return True


def _dominates(q: Option, o: Option) -> bool:
    """``q`` is no later, no dearer and has no more stops than ``o``, and better in one."""
    no_worse = (
        q.total_min <= o.total_min + SAME_TIME_MIN
        and q.cost <= o.cost + SAME_COST
        and len(q.stops) <= len(o.stops)
    )
    return no_worse and (
        q.total_min < o.total_min - SAME_TIME_MIN
        or q.cost < o.cost - SAME_COST
        or len(q.stops) < len(o.stops)
    )


def _offer(found: list[tuple[Option, Objective]]) -> list[Option]:
    """The options offered from the plans found so far (the fastest search's first): the
    fastest is the earliest arrival and, among plans found arriving as early, the cheapest (an
    alternative may tie the fastest and cost less); then each other plan in the order found,
    when it is genuinely different, no plan found is better in every respect, and its label
    is true of it — "fewest stops" strictly fewer stops, "cheapest" strictly cheaper than every
    option offered before it."""
    plans = [option for option, _ in found]
    earliest = min(o.total_min for o in plans)
    fastest = min(
        (o for o in plans if o.total_min <= earliest + SAME_TIME_MIN),
        key=lambda o: (round(o.cost / SAME_COST), len(o.stops)),
    )
    offered = [replace(fastest, label=FASTEST.label)]
    for option, objective in found:
        if option is fastest or not _different(option, offered, objective):
            continue
        if any(_dominates(other, option) for other in plans):
            continue
        if objective is FEWEST_STOPS and len(option.stops) >= min(len(o.stops) for o in offered):
            continue
        if objective is CHEAPEST and option.cost >= min(o.cost for o in offered) - SAME_COST:
            continue
        offered.append(option)
    return offered


def _busiest_company(option: Option) -> str | None:
    counts: dict[str, int] = {}
    for s in option.stops:
        counts[s.company] = counts.get(s.company, 0) + 1
    return max(counts, key=lambda company: counts[company]) if counts else None


def _expand_route(distances: RoadDistances, waypoints: list[str], leg_km: float) -> list[str]:
    route: list[str] = []
    for a, b in itertools.pairwise(waypoints):
        if a == b:
            continue
        leg = distances.path(a, b, leg_km)
        route.extend(leg if not route else leg[1:])
    return route or waypoints[:1]


def _why_infeasible(p: _Problem, network: Network) -> str:
    """Name the longest unavoidable gap between chargers (a minimax path), or the windows."""
    req = p.req
    names = network.places
    n = p.n + 2
    # bottleneck (minimax) Dijkstra over nodes; the first hop is limited by the charge at start
    full_range = (1.0 - req.reserve_soc) / p.k
    start_range = max(req.soc - req.reserve_soc, 0.0) / p.k
    best = np.full(n, np.inf)
    via = np.full(n, -1)
    best[0] = 0.0
    done = np.zeros(n, dtype=bool)
    D_all = p.node_distances()  # without the range limit, to name the gap
    for _ in range(n):
        u = int(np.argmin(np.where(done, np.inf, best)))
        if done[u] or not np.isfinite(best[u]):
            break
        done[u] = True
        hop = D_all[u]
        cand = np.maximum(best[u], hop if u else np.where(hop <= start_range + EPS, 0.0, hop))
        cand[0] = np.inf
        improve = cand < best
        best = np.where(improve, cand, best)
        via = np.where(improve, u, via)
    if best[p.dest] <= full_range + EPS:
        return (
            "every charger on a feasible route is busy: no free window within the planning "
            "horizon lets the car charge in time"
        )
    # find the hop that sets the bottleneck
    node = p.dest
    worst: tuple[int, int, float] | None = None
    while node > 0 and via[node] >= 0:
        u = int(via[node])
        km = float(D_all[u][node])
        if worst is None or km >= worst[2]:
            worst = (u, node, km)
        node = u
    if worst is None or not np.isfinite(worst[2]):
        return (
            f"no charger reachable from {names[req.origin].name} leads to "
            f"{names[req.destination].name}"
        )
    u, v, km = worst
    if u == 0 and km > full_range + EPS:  # charging before leaving would not help either
        what = "the destination" if v == p.dest else "the first charger"
        return (
            f"{names[p.places[0]].name} → {names[p.places[v]].name}: {km:.0f} km to {what} "
            f"exceeds the usable range of {full_range:.0f} km, even on a full charge"
        )
    if u == 0 and v == p.dest:
        return (
            f"{names[p.places[0]].name} → {names[p.places[v]].name}: {km:.0f} km with no "
            f"usable charger on the way exceeds the {start_range:.0f} km the car can drive "
            f"on its current {req.soc:.0%} charge"
        )
    if u == 0:
        return (
            f"{names[p.places[0]].name} → {names[p.places[v]].name}: {km:.0f} km to the "
            f"first charger exceeds the {start_range:.0f} km the car can drive on its "
            f"current {req.soc:.0%} charge"
        )
    return (
        f"{names[p.places[u]].name} → {names[p.places[v]].name}: {km:.0f} km between "
        f"chargers exceeds the usable range of {full_range:.0f} km"
    )
