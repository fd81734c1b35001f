"""W&B's setup() docs example: global settings in the parent, one run per child process."""

import multiprocessing

import wandb


def run_experiment(params):
    with wandb.init(config=params) as run:
        for epoch in range(params["epochs"]):
            run.log({"loss": params["learning_rate"] / (epoch + 1)})


if __name__ == "__main__":
    wandb.setup(settings={"project": "corpus-setup"})
    experiment_params = [
        {"learning_rate": 0.01, "epochs": 2},
        {"learning_rate": 0.001, "epochs": 3},
    ]
    processes = []
    for params in experiment_params:
        process = multiprocessing.Process(target=run_experiment, args=(params,))
        process.start()
        processes.append(process)
    for process in processes:
        process.join()
    wandb.teardown()
