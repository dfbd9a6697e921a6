# Several Rasa processes behind nginx (make cluster), the load test with
# faults (make loadtest). Included by the top Makefile. See docs/deployment.md.
