"""`python -m connectors.faulty.completes_on_problem_parcel`: the reference connector, one
defect."""

from connectors.faulty.completes_on_problem_parcel import CompletesOnProblemParcel
from connectors.reference.connector import main

if __name__ == "__main__":
    main(connector=CompletesOnProblemParcel)
