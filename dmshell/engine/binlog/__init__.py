"""The upstream binlog: locations, GTID sets, the replication-protocol reader and its row decoder,
and finding a location by time. Every read of a binlog goes through :mod:`.reader`.
"""
