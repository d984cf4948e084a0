#!/bin/bash
# A DM user's dmctl script, written the way DM's own integration tests drive dmctl
# (dm/tests/*/run.sh: commands piped into `dmctl --master-addr=...`, output checked by counting
# grep matches), run unchanged against dmshell's master and workers.
#
# Needs a running dmshell daemon and two upstream MySQL/MariaDB servers plus a downstream, given
# by the environment (see _utils/env_variables); tests/ctl/test_dm_script_compat.py provides them.

set -eu

cur=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PATH=$cur/_utils:$PATH
source $cur/_utils/test_prepare
source $cur/check_list/task.sh
source $cur/check_list/source.sh

MASTER_ADDR="$MASTER_HOST:$MASTER_PORT"

function prepare_data() {
	cleanup_data dmctl
	cleanup_data_upstream dmctl
	run_sql_source1 "create database dmctl; create table dmctl.t_1 (id int primary key, b varchar(20)); insert into dmctl.t_1 values (1, 'a'), (2, 'b'), (3, 'c');"
	run_sql_source2 "create database dmctl; create table dmctl.t_2 (id int primary key, b varchar(20)); insert into dmctl.t_2 values (101, 'a'), (102, 'b'), (103, 'c');"
}

function prepare_config() {
	cp $cur/conf/source1.yaml $WORK_DIR/source1.yaml
	cp $cur/conf/source2.yaml $WORK_DIR/source2.yaml
	cp $cur/conf/dm-task.yaml $WORK_DIR/dm-task.yaml
	sed -i "s/port: 3306/port: $MYSQL_PORT1/; s/password: '123456'/password: '$MYSQL_PASSWORD1'/" $WORK_DIR/source1.yaml
	# the second source keeps its password encrypted by dmctl, as DM's docs recommend
	encrypted=$(echo "encrypt '$MYSQL_PASSWORD2'" | $DMCTL --master-addr=$MASTER_ADDR)
	sed -i "s/port: 3307/port: $MYSQL_PORT2/; s#password: '123456'#password: '$encrypted'#" $WORK_DIR/source2.yaml
	sed -i "s/port: 4000/port: $TIDB_PORT/; s/password: \"\"/password: \"$TIDB_PASSWORD\"/" $WORK_DIR/dm-task.yaml
}

function run() {
	prepare_data
	prepare_config

	# ---- wrong arguments: usage lines and DM's messages
	start_task_wrong_arg
	start_task_wrong_config_file
	operate_task_wrong_arg
	check_task_wrong_arg
	query_status_wrong_arg
	operate_source_empty_arg
	operate_source_invalid_op $WORK_DIR/source1.yaml
	operate_source_stop_not_created_config $WORK_DIR/source1.yaml
	show_ddl_locks_wrong_arg
	run_dm_ctl $WORK_DIR $MASTER_ADDR \
		"no-such-command" \
		"unknown command \"no-such-command\" for \"dmctl\"" 1

	# ---- sources
	dmctl_operate_source create $WORK_DIR/source1.yaml $SOURCE_ID1
	dmctl_operate_source create $WORK_DIR/source2.yaml $SOURCE_ID2
	list_member_bound_workers
	run_dm_ctl $WORK_DIR $MASTER_ADDR \
		"operate-source show" \
		"\"result\": true" 3 \
		"\"source\": \"$SOURCE_ID1\"" 1 \
		"\"source\": \"$SOURCE_ID2\"" 1
	query_status_wrong_params
	config_wrong_arg

	# ---- the task
	check_task_pass $WORK_DIR/dm-task.yaml
	start_task_wrong_start_time_format $WORK_DIR/dm-task.yaml
	dmctl_start_task $WORK_DIR/dm-task.yaml "--remove-meta"
	run_dm_ctl_with_retry $WORK_DIR $MASTER_ADDR \
		"query-status test" \
		"\"unit\": \"Sync\"" 2 \
		"\"stage\": \"Running\"" 2
	query_status_with_tasks
	run_dm_ctl $WORK_DIR $MASTER_ADDR \
		"start-task $WORK_DIR/dm-task.yaml" \
		"\"result\": false" 1 \
		"subtasks with name test for sources \[$SOURCE_ID1 $SOURCE_ID2\] already exist" 1

	# full copy, then replication of new rows, both shards merged into one table
	run_sql_tidb_with_retry "select count(*) from dmctl.t_target" "count(*): 6"
	run_sql_source1 "insert into dmctl.t_1 values (4, 'd');"
	run_sql_source2 "insert into dmctl.t_2 values (104, 'd'); update dmctl.t_2 set b = 'bb' where id = 102;"
	run_sql_tidb_with_retry "select count(*) from dmctl.t_target" "count(*): 8"
	run_sql_tidb_with_retry "select b from dmctl.t_target where id = 102" "b: bb"

	# ---- pause, write while paused, resume: the row written meanwhile arrives
	dmctl_pause_task test
	query_status_paused_tasks
	run_dm_ctl $WORK_DIR $MASTER_ADDR \
		"query-status" \
		"\"taskStatus\": \"Paused\"" 1
	run_sql_source1 "insert into dmctl.t_1 values (5, 'e');"
	dmctl_resume_task test
	query_status_running_tasks
	run_sql_tidb_with_retry "select count(*) from dmctl.t_target" "count(*): 9"
	run_sql_tidb "select id, b from dmctl.t_target where id = 5"
	check_contains "b: e"

	# ---- command mode (the command on dmctl's command line)
	run_dm_ctl_cmd_mode $WORK_DIR $MASTER_ADDR \
		"query-status test" \
		"\"result\": true" 3 \
		"\"name\": \"test\"" 2 \
		"\"unit\": \"Sync\"" 2
	run_dm_ctl_cmd_mode $WORK_DIR $MASTER_ADDR \
		"list-member --worker" \
		"\"stage\": \"bound\"" 2

	# ---- configuration: passwords are masked, export writes every source and task
	run_dm_ctl $WORK_DIR $MASTER_ADDR \
		"get-config task test" \
		"\"result\": true" 1 \
		"name: test" 1 \
		"password: '\*\*\*\*\*\*'" 1 \
		"$TIDB_PASSWORD" 0
	run_dm_ctl $WORK_DIR $MASTER_ADDR \
		"config task test --path $WORK_DIR/get_task.yaml" \
		"\"result\": true" 1
	grep -q "password: '\*\*\*\*\*\*'" $WORK_DIR/get_task.yaml
	run_dm_ctl $WORK_DIR $MASTER_ADDR \
		"config source $SOURCE_ID1" \
		"source-id: $SOURCE_ID1" 1 \
		"password: '\*\*\*\*\*\*'" 1 \
		"$MYSQL_PASSWORD1" 0
	run_dm_ctl $WORK_DIR $MASTER_ADDR \
		"config export -p $WORK_DIR/exported" \
		"export configs to directory .* succeed" 1
	test -f $WORK_DIR/exported/tasks/test.yaml
	test -f $WORK_DIR/exported/sources/$SOURCE_ID1.yaml
	test -f $WORK_DIR/exported/sources/$SOURCE_ID2.yaml

	# ---- binlog skip without -b acts on the current error: each source says it has none
	run_dm_ctl $WORK_DIR $MASTER_ADDR \
		"binlog skip test" \
		"has no error" 2 \
		"not supported" 0

	# ---- shard DDL locks: none while no shard DDL is pending (DM's answers)
	run_dm_ctl $WORK_DIR $MASTER_ADDR \
		"shard-ddl-lock test" \
		"\"result\": true" 1 \
		"no DDL lock exists" 1
	run_dm_ctl $WORK_DIR $MASTER_ADDR \
		"show-ddl-locks" \
		"\"result\": true" 1 \
		"no DDL lock exists" 1
	run_dm_ctl $WORK_DIR $MASTER_ADDR \
		"shard-ddl-lock unlock no-such-lock" \
		"\"result\": false" 1 \
		"lock with ID no-such-lock not found" 1

	# ---- stop: the task is gone everywhere
	dmctl_stop_task test
	run_dm_ctl $WORK_DIR $MASTER_ADDR \
		"query-status test" \
		"task test has no source or not exist" 1
	run_dm_ctl $WORK_DIR $MASTER_ADDR \
		"pause-task test" \
		"\"result\": false" 1 \
		"task test has no source or not exist, please check the task name and status" 1

	# ---- sources go away too
	dmctl_operate_source stop $WORK_DIR/source1.yaml $SOURCE_ID1
	dmctl_operate_source stop $SOURCE_ID2 $SOURCE_ID2
	run_dm_ctl $WORK_DIR $MASTER_ADDR \
		"operate-source show" \
		"\"result\": true" 1 \
		"\"source\":" 0
}

run
echo "[$(date)] <<<<<< test case $TEST_NAME success! >>>>>>"
