"""Study logic of the stages: what each stage does, as functions the tests call directly."""
