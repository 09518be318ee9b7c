"""`python -m connectors.faulty.books_twice_on_duplicate_confirm`: the reference connector,
one defect added."""

from connectors.faulty.books_twice_on_duplicate_confirm import BooksTwiceOnDuplicateConfirm
from connectors.reference.connector import main

if __name__ == "__main__":
    main(connector=BooksTwiceOnDuplicateConfirm)
