"""The service layer: one set of use cases that REST handlers and the MQTT bridge both call."""
