"""python -m pricing_svc: serves PricingService until SIGTERM/SIGINT."""

from pricing_svc.server import main

if __name__ == "__main__":
    main()
