"""The simulator: charging stations and electric cars as MQTT clients."""
