"""The company a use case runs for: its context and ports, its processes, peers and drivers,
and the ways in (JSON and times, schema validation) and out (asking several companies at once)
that every other part of the service layer uses."""
