"""The course: its experiments and computed answers, fair comparisons of runs, reports and exports."""
