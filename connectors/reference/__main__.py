"""`python -m connectors.reference`: run the reference connector with the environment's settings."""

from connectors.reference.connector import main

if __name__ == "__main__":
    main()
