"""MQTT 5 for cars and stations: the server-side bridge and a small request/response client."""
