"""The reference network is real, connected and plausible."""

from network import great_circle_km, load_reference

REQUIRED = [
    "sao-luis",
    "teresina",
    "fortaleza",
    "natal",
    "joao-pessoa",
    "recife",
    "maceio",
    "aracaju",
    "salvador",
    "feira-de-santana",
    "campina-grande",
    "caruaru",
    "arapiraca",
    "petrolina",
    "juazeiro",
    "vitoria-da-conquista",
]


def test_required_places_exist_and_network_is_connected():
    net = load_reference().network
    assert set(REQUIRED) <= set(net.places)
    reachable = net.distances_from("joao-pessoa")
    assert set(reachable) == set(net.places)


def test_road_lengths_are_plausible_against_great_circle_distance():
    net = load_reference().network
    for road in net.roads:
        a, b = net.places[road.a], net.places[road.b]
        gc = great_circle_km(a.lat, a.lon, b.lat, b.lon)
        if road.km > 10:  # short river crossings are dominated by the bridge
            assert gc <= road.km <= 1.6 * gc, (road, round(gc))


def test_seed_trip_goes_via_maceio_and_sergipe_and_needs_several_stops():
    ref = load_reference()
    km, path = ref.network.route("joao-pessoa", "feira-de-santana")
    assert "maceio" in path and "aracaju" in path
    assert 900 <= km <= 1100
    dolphin = ref.vehicles["byd-dolphin"]
    assert km > 3 * dolphin.range_km * 0.8  # several stops for a mid-size EV


def test_vehicles_are_physical():
    for v in load_reference().vehicles.values():
        assert 20 <= v.battery_kwh <= 120
        assert 0.1 <= v.consumption_kwh_per_km <= 0.25
        assert 150 <= v.range_km <= 600
