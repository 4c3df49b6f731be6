#!/bin/sh
# Starts the broker with docker/mosquitto/mosquitto.conf and what prepare.sh made in /broker.
# The accounts file is copied into the broker's data only once: from then on the plugin owns it.
set -eu
[ -f /mosquitto/data/dynamic-security.json ] || install -m 600 -o mosquitto -g mosquitto \
    /broker/dynamic-security.json /mosquitto/data/dynamic-security.json
install -d -o mosquitto -g mosquitto /mosquitto/tls
install -m 644 /broker/ca.crt /broker/broker.crt /mosquitto/tls/
install -m 600 -o mosquitto -g mosquitto /broker/broker.key /mosquitto/tls/broker.key
# the official image has the plugin at /usr/lib; Debian's package under /usr/lib/<triplet>
[ -e /usr/lib/mosquitto_dynamic_security.so ] || \
    ln -s "$(ls /usr/lib/*/mosquitto_dynamic_security.so | head -n 1)" \
        /usr/lib/mosquitto_dynamic_security.so
exec mosquitto -c /recarga/mosquitto.conf
