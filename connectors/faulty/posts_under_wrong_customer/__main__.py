"""`python -m connectors.faulty.posts_under_wrong_customer`: the reference connector, one defect."""

from connectors.faulty.posts_under_wrong_customer import PostsUnderWrongCustomerMapper
from connectors.reference.connector import main

if __name__ == "__main__":
    main(PostsUnderWrongCustomerMapper())
