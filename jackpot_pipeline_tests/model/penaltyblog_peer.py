"""penaltyblog's Dixon-Coles parameters in our parametrisation (shared by the agreement test and the bench).

penaltyblog: log λ_home = hfa + att_i + def_j, log λ_away = att_j + def_i with Σ att = n. Ours: centred
strengths, defence sign flipped, explicit intercept (see jackpot_pipeline/model/dixon_coles.py).
"""

from jackpot_pipeline.model.dixon_coles import DixonColesFit


def as_our_fit(model) -> DixonColesFit:
    params, where = model.params_array, model.param_indices()
    attack, defence = params[where["attack"]], params[where["defense"]]
    return DixonColesFit.from_parameters(
        list(model.teams),
        attack - attack.mean(),
        -(defence - defence.mean()),
        intercept=attack.mean() + defence.mean(),
        home_advantage=params[where["home_advantage"]],
        rho=params[where["rho"]],
    )
