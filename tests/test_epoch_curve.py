"""Reading DIET's progress line for the epoch curve (bench/epoch_curve.py)."""

from bench.epoch_curve import curve

LOG = (
    "Epochs:   5%|▌   | 4/80 [00:09<02:50,  2.2s/it, t_loss=9.1, i_acc=0.8, e_f1=0.5]"
    "Epochs:   6%|▋   | 5/80 [00:12<02:51,  2.3s/it, t_loss=8.7, i_acc=0.81, e_f1=0.52, "
    "val_i_acc=0.700, val_e_f1=0.400, val_r_f1=0.350]"
    "Epochs:   6%|▋   | 5/80 [00:12<02:51,  2.3s/it, t_loss=8.7, i_acc=0.81, e_f1=0.52, "
    "val_i_acc=0.700, val_e_f1=0.400, val_r_f1=0.350]"
    "Epochs: 100%|███| 80/80 [1:02:03<00:00,  2.3s/it, t_loss=2.1, val_i_acc=0.95, "
    "val_e_f1=0.9, val_r_f1=0.85]"
)


def test_only_epochs_with_validation_once_each_with_their_time():
    points = curve(LOG)
    assert [p[0] for p in points] == [5, 80]
    assert points[0][1] == 12
    assert points[0][2] == {"val_i_acc": 0.7, "val_e_f1": 0.4, "val_r_f1": 0.35}
    assert points[1][1] == 3600 + 2 * 60 + 3
