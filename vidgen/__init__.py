"""vidgen: Telegram photo → AI video, Kubernetes-native."""

__version__ = "0.1.0"
