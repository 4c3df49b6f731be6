"""The booking domain: stations, connectors, time windows, reservations and their rules.

Plain Python: no HTTP, MQTT or SQL here.
"""
