"""IAM and KMS authorization for the local cloud: the policy language (:mod:`.language`),
single-account evaluation (:mod:`.evaluation`), who signed a request (:mod:`.identities`), the
actions each call needs (:mod:`.calls`), the policies of stored resources (:mod:`.store`) and
the endpoint's gate with its modes and journal (:mod:`.gate`)."""
