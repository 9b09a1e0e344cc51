"""The MLflow plugin: MLflow's client reads the git registry, and its writes open pull requests.

``pip install 'mlgate[mlflow]'`` registers, through entry points, the registry store of ``mlgate:`` registry URIs
(:mod:`.store`) and the artifact repository that verifies what MLflow downloads (:mod:`.artifacts`)::

    mlflow.set_registry_uri("mlgate:/path/to/registry?forge=local&store=s3://acme-models")
    model = mlflow.pyfunc.load_model("models:/fraud-detector@champion")

Only this package imports MLflow: ``mlgate`` and ``mlgate.serving`` import without it.
"""
