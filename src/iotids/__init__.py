"""iotids: deep-learning intrusion detection for IoT network traffic."""

__version__ = "0.1.0"
