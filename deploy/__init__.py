"""Deployment: container and compose files, Prometheus and Grafana provisioning (beside this
file), and a local scale-out stack on loopback: service replicas -> nginx -> Prometheus
(`stack`), the dashboard's queries (`dashboard`), and their plot from a real run
(`plot_dashboard`)."""
