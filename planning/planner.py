"""Charging-stop planning as a label-setting A* search over (place, time, state of charge).

Nodes are the origin, every candidate charger and the destination. A label is an arrival at a
node: (time, state of charge, objective so far). From a charger, a transition charges to a
target and drives to another node; the target is either just what that node needs (keeping the
reserve on arrival), or 80 % (the end of the constant-power phase), or 100 %. Charging waits
for the earliest free window of the connector that lets the car leave soonest. Labels are pruned
by Pareto dominance (objective, time, charge) and ordered by objective + an admissible lower
bound of what remains, so the first label to reach the destination is optimal for the objective.
See docs/planning.md.
"""

from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass

import numpy as np

from network.distances import RoadDistances
from network.graph import Network
from planning.charging import EFFICIENCY, charge_minutes, effective_power_kw
from planning.model import Charger, Option, PlanResult, Stop, TripRequest, as_arrays

EPS = 1e-9
TARGETS = (0.8, 1.0)


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


class _Problem:
    """Everything the search needs, as arrays indexed by node (0 origin, 1..n chargers, n+1 dest)."""

    def __init__(self, chargers: list[Charger], req: TripRequest, distances: RoadDistances):
        self.req = req
        self.car = req.car
        self.k = req.car.soc_per_km()
        self.max_range_km = (1.0 - req.reserve_soc) / self.k
        self.chargers = chargers
        n = len(chargers)
        self.n = n
        self.dest = n + 1
        places = [req.origin] + [c.place_id for c in chargers] + [req.destination]
        self.places = places
        self.distances = distances
        col = np.array([distances.index[p] for p in places])
        self.columns = col
        self.D = self.node_distances(limit_km=self.max_range_km + EPS)
        to_dest = distances.from_places([req.destination])[0]
        self.d_dest = to_dest[col]
        self.reserve_at = np.full(n + 2, req.reserve_soc)
        self.reserve_at[self.dest] = req.final_soc
        # per charger: connector arrays
        self.conn_power: list[np.ndarray] = []
        self.conn_price: list[np.ndarray] = []
        self.conn_windows: list[list[tuple[np.ndarray, np.ndarray]]] = []
        best_power, min_price = 0.0, math.inf
        for c in chargers:
            powers = np.array([effective_power_kw(x.power_kw, x.standard, self.car.max_charge_kw,
                                                  self.car.max_ac_kw) for x in c.connectors])
            self.conn_power.append(powers)
            self.conn_price.append(np.array([x.price_per_kwh for x in c.connectors]))
            self.conn_windows.append([as_arrays(x.free) for x in c.connectors])
            if len(powers):
                best_power = max(best_power, float(powers.max()))
                min_price = min(min_price, min(x.price_per_kwh for x in c.connectors))
        self.best_power = best_power
        self.min_price = 0.0 if math.isinf(min_price) else min_price

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
        km = self.d_dest[node]
        if not np.isfinite(km):
            return math.inf
        drive = km / req.speed_kmh * 60.0
        need = (req.final_soc + km * self.k - soc) * self.car.battery_kwh
        is_charger = 1 <= node <= self.n
        if need <= EPS and not is_charger:
            return obj.time * drive
        if self.best_power <= 0:
            return math.inf
        energy = max(need, 0.0)
        stops = max(1 if is_charger else 0,
                    math.ceil(energy / ((1.0 - req.reserve_soc) * self.car.battery_kwh) - EPS))
        charge = energy / self.best_power * 60.0
        return (obj.time * (drive + charge + stops * req.stop_overhead_min) + obj.stops * stops
                + obj.cost * energy / EFFICIENCY * self.min_price)


def _earliest_starts(t_arrive: float, occupancy: np.ndarray,
                     windows: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """For each occupancy (minutes), the earliest start ≥ t_arrive inside one free window."""
    ws, we = windows
    if ws.size == 0:
        return np.full(occupancy.shape, np.inf)
    starts = np.maximum(ws, t_arrive)
    fits = starts[None, :] + occupancy[:, None] <= we[None, :] + EPS
    return np.where(fits, starts[None, :], np.inf).min(axis=1)


def _search(p: _Problem, obj: Objective, allowed: np.ndarray) -> Option | None:
    req, car = p.req, p.car
    B = car.battery_kwh
    # label storage (parallel lists) and the Pareto front per node
    L_node, L_t, L_soc, L_obj, L_stops, L_parent, L_stop = [], [], [], [], [], [], []
    fronts: dict[int, list[tuple[float, float, float]]] = {}
    heap: list = []
    tie = itertools.count()

    def push(node, t, soc, objective, stops, parent, stop):
        front = fronts.setdefault(node, [])
        for o2, t2, s2 in front:
            if o2 <= objective + EPS and t2 <= t + EPS and s2 >= soc - EPS:
                return
        front[:] = [(o2, t2, s2) for o2, t2, s2 in front
                    if not (objective <= o2 + EPS and t <= t2 + EPS and soc >= s2 - EPS)]
        front.append((objective, t, soc))
        f = objective + p.heuristic(node, soc, obj)
        if not math.isfinite(f):
            return
        L_node.append(node)
        L_t.append(t)
        L_soc.append(soc)
        L_obj.append(objective)
        L_stops.append(stops)
        L_parent.append(parent)
        L_stop.append(stop)
        # ties: prefer labels nearer the destination, so a solution is found early
        heapq.heappush(heap, (f, p.d_dest[node], next(tie), len(L_node) - 1))

    push(0, 0.0, req.soc, 0.0, 0, -1, None)
    all_nodes = np.arange(p.n + 2)
    while heap:
        _f, _d, _tie, lid = heapq.heappop(heap)
        u, t_u, soc_u, obj_u = L_node[lid], L_t[lid], L_soc[lid], L_obj[lid]
        if (obj_u, t_u, soc_u) not in fronts.get(u, ()):
            continue  # dominated after it was pushed
        if u == p.dest:
            return _option(p, obj, lid, L_node, L_t, L_soc, L_parent, L_stop)
        dist = p.D[u]
        ok = allowed & np.isfinite(dist) & (all_nodes != u) & (all_nodes != 0)
        vs = all_nodes[ok]
        need = p.reserve_at[vs] + dist[vs] * p.k
        if u == 0:  # leave the origin with the charge the car has
            reach = need <= soc_u + EPS
            for v, km in zip(vs[reach], dist[vs[reach]], strict=True):
                push(int(v), t_u + km / req.speed_kmh * 60.0, soc_u - km * p.k,
                     obj_u + obj.time * km / req.speed_kmh * 60.0, 0, lid, None)
            continue
        # transitions from a charger: (successor, target) pairs
        vv, tt = [], []
        just = (need > soc_u + EPS) & (need <= 1.0 + EPS)
        vv.append(vs[just])
        tt.append(np.minimum(need[just], 1.0))
        for target in TARGETS:
            if target > soc_u + EPS:
                more = need < target - EPS
                vv.append(vs[more])
                tt.append(np.full(int(more.sum()), target))
        vv_a = np.concatenate(vv)
        if vv_a.size == 0:
            continue
        tt_a = np.concatenate(tt)
        c = u - 1
        best_end = np.full(vv_a.shape, np.inf)
        best_start = np.full(vv_a.shape, np.inf)
        best_conn = np.zeros(vv_a.shape, dtype=int)
        best_cmin = np.zeros(vv_a.shape)
        for j, power in enumerate(p.conn_power[c]):
            if power <= 0:
                continue
            cmin = charge_minutes(soc_u, tt_a, B, power)
            occ = cmin + req.stop_overhead_min
            start = _earliest_starts(t_u, occ, p.conn_windows[c][j])
            end = start + occ
            better = end < best_end - EPS
            best_end = np.where(better, end, best_end)
            best_start = np.where(better, start, best_start)
            best_conn = np.where(better, j, best_conn)
            best_cmin = np.where(better, cmin, best_cmin)
        fine = np.isfinite(best_end)
        for i in np.flatnonzero(fine):
            v, target, km = int(vv_a[i]), float(tt_a[i]), float(dist[vv_a[i]])
            j = int(best_conn[i])
            energy = (target - soc_u) * B
            cost = energy / EFFICIENCY * float(p.conn_price[c][j])
            arrive = float(best_end[i]) + km / req.speed_kmh * 60.0
            objective = (obj_u + obj.time * (arrive - t_u) + obj.stops
                         + obj.cost * cost)
            stop = (j, target, float(best_start[i]), float(best_end[i]), float(best_cmin[i]),
                    energy, cost)
            push(v, arrive, target - km * p.k, objective, L_stops[lid] + 1, lid, stop)
    return None


def _option(p: _Problem, obj: Objective, lid: int, L_node, L_t, L_soc, L_parent,
            L_stop) -> Option:
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
        charger = p.chargers[u - 1]
        conn = charger.connectors[j]
        before = L_node[L_parent[prev]] if L_parent[prev] != -1 else 0
        stops.append(Stop(
            station_id=charger.station_id, company=charger.company, place_id=charger.place_id,
            connector_id=conn.connector_id, power_kw=float(p.conn_power[u - 1][j]),
            arrival_min=L_t[prev], soc_arrival=L_soc[prev], soc_target=target,
            wait_min=start - L_t[prev], charge_min=cmin, start_min=start, end_min=end,
            energy_kwh=energy, cost=cost, km_from_previous=float(p.D[before][u])))
    last = chain[-1]
    total = L_t[last]
    distance = float(sum(p.D[a][b] for a, b in itertools.pairwise(nodes)))
    drive = distance / p.req.speed_kmh * 60.0
    return Option(
        label=obj.label, stops=stops, route=[p.places[n] for n in nodes],
        distance_km=distance, drive_min=drive,
        charge_min=sum(s.charge_min for s in stops), wait_min=sum(s.wait_min for s in stops),
        total_min=total, cost=sum(s.cost for s in stops), soc_arrival=L_soc[last])


def plan(network: Network, chargers: list[Charger], req: TripRequest,
         distances: RoadDistances | None = None) -> PlanResult:
    """Up to ``req.options`` ranked, genuinely different options, or the reason there are none."""
    places = network.places
    for name in (req.origin, req.destination):
        if name not in places:
            return PlanResult([], f"unknown place {name!r}")
    if req.origin == req.destination:
        return PlanResult([Option("already there", [], [req.origin], 0.0, 0.0, 0.0, 0.0, 0.0,
                                  0.0, req.soc)])
    distances = distances or RoadDistances(network)
    usable = [c for c in chargers if c.company not in req.avoid_companies and c.connectors]
    p = _Problem(usable, req, distances)
    if not np.isfinite(p.d_dest[0]):
        return PlanResult([], f"no road connects {places[req.origin].name} and "
                              f"{places[req.destination].name}")
    if req.soc < req.reserve_soc - EPS:
        return PlanResult([], f"the car starts at {req.soc:.0%}, below the {req.reserve_soc:.0%} "
                              f"reserve")
    everyone = np.ones(p.n + 2, dtype=bool)
    fastest = _search(p, FASTEST, everyone)
    if fastest is None:
        return PlanResult([], _why_infeasible(p, network))
    options = [fastest]
    wanted = [(FEWEST_STOPS, everyone), (CHEAPEST, everyone)]
    busiest = _busiest_company(fastest)
    if busiest is not None:
        avoid = everyone.copy()
        for i, c in enumerate(usable, start=1):
            if c.company == busiest:
                avoid[i] = False
        wanted.append((Objective(f"avoids company {busiest}"), avoid))
    seen = {fastest.signature()}
    for objective, allowed in wanted:
        if len(options) >= req.options:
            break
        option = _search(p, objective, allowed)
        if option is not None and option.signature() not in seen:
            seen.add(option.signature())
            options.append(option)
    for option in options:  # full road route, place by place
        option.route = _expand_route(distances, option.route)
    return PlanResult(options[: req.options])


def _busiest_company(option: Option) -> str | None:
    counts: dict[str, int] = {}
    for s in option.stops:
        counts[s.company] = counts.get(s.company, 0) + 1
    return max(counts, key=counts.get) if counts else None


def _expand_route(distances: RoadDistances, waypoints: list[str]) -> list[str]:
    route: list[str] = []
    for a, b in itertools.pairwise(waypoints):
        if a == b:
            continue
        leg = distances.path(a, b)
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
        return ("every charger on a feasible route is busy: no free window within the planning "
                "horizon lets the car charge in time")
    # find the hop that sets the bottleneck
    node, worst = p.dest, (None, None, 0.0)
    while node > 0 and via[node] >= 0:
        u = int(via[node])
        km = float(D_all[u][node])
        if km >= worst[2]:
            worst = (u, node, km)
        node = u
    u, v, km = worst
    if u is None or not np.isfinite(km):
        return (f"no charger reachable from {names[req.origin].name} leads to "
                f"{names[req.destination].name}")
    if u == 0 and v == p.dest:
        return (f"{names[p.places[0]].name} → {names[p.places[v]].name}: {km:.0f} km with no "
                f"usable charger on the way exceeds the {start_range:.0f} km the car can drive "
                f"on its current {req.soc:.0%} charge")
    if u == 0:
        return (f"{names[p.places[0]].name} → {names[p.places[v]].name}: {km:.0f} km to the "
                f"first charger exceeds the {start_range:.0f} km the car can drive on its "
                f"current {req.soc:.0%} charge")
    return (f"{names[p.places[u]].name} → {names[p.places[v]].name}: {km:.0f} km between "
            f"chargers exceeds the usable range of {full_range:.0f} km")
