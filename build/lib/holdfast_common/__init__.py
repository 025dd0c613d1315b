"""Pieces shared by holdfast's services: settings, database, errors, money, server bootstrap."""
