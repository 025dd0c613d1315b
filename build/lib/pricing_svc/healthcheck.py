"""`python -m pricing_svc.healthcheck`: exits 0 only when pricing_svc answers SERVING."""

from holdfast_common.rpc.healthcheck import main

if __name__ == "__main__":
    raise SystemExit(main(lambda settings: settings.pricing_listen))
