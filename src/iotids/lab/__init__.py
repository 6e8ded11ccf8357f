"""A traffic lab: real, labelled IoT traffic made on one machine.

Network namespaces joined by a bridge (testbed.py) hold an MQTT broker,
sensors, a camera and an attacker; real tools (mosquitto, paho-mqtt, nmap,
hping3, scapy) make the traffic (agents.py, scenarios.py); tcpdump captures
it; Argus and NFStream turn it into flows, labelled from the lab's own
schedule and written in the datasets' native layouts (run.py).
"""
