"""Claims on a scheduled job's period: a job run twice (two workers, two web processes) does its work once."""
