#!/bin/bash
# Argument checks of the task commands: usage lines and messages as DM prints them.

function start_task_wrong_arg() {
	run_dm_ctl $WORK_DIR "$MASTER_HOST:$MASTER_PORT" \
		"start-task" \
		"start-task \[-s source ...\] \[--remove-meta\] <config-file> \[flags\]" 1
}

function start_task_wrong_config_file() {
	run_dm_ctl $WORK_DIR "$MASTER_HOST:$MASTER_PORT" \
		"start-task not_exists_config_file" \
		"error in get file content" 1
}

function start_task_wrong_start_time_format() {
	task_conf=$1
	run_dm_ctl $WORK_DIR "$MASTER_HOST:$MASTER_PORT" \
		"start-task $task_conf --start-time '20060102 150405'" \
		"error while parse start-time" 1
}

function operate_task_wrong_arg() {
	for operate in pause-task resume-task stop-task; do
		run_dm_ctl $WORK_DIR "$MASTER_HOST:$MASTER_PORT" \
			"$operate" \
			"$operate \[-s source ...\] \[task-name | task-file\] \[flags\]" 1
	done
	run_dm_ctl $WORK_DIR "$MASTER_HOST:$MASTER_PORT" \
		"pause-task -s a -s b" \
		"pause-task \[-s source ...\] \[task-name | task-file\] \[flags\]" 1
}

function check_task_wrong_arg() {
	run_dm_ctl $WORK_DIR "$MASTER_HOST:$MASTER_PORT" \
		"check-task" \
		"check-task <config-file> \[--error count\] \[--warn count\] \[flags\]" 1
	run_dm_ctl $WORK_DIR "$MASTER_HOST:$MASTER_PORT" \
		"check-task not_exists_config_file" \
		"error in get file content" 1
}

function check_task_pass() {
	run_dm_ctl $WORK_DIR "$MASTER_HOST:$MASTER_PORT" \
		"check-task $1" \
		"\"result\": true" 1 \
		"pre-check is passed" 1
}

function query_status_wrong_arg() {
	run_dm_ctl $WORK_DIR "$MASTER_HOST:$MASTER_PORT" \
		"query-status wrong_args_count more_than_one" \
		"query-status \[-s source ...\] \[task-name | task-file\]" 1
}

function query_status_wrong_params() {
	run_dm_ctl $WORK_DIR "$MASTER_HOST:$MASTER_PORT" \
		"query-status -s source-x task-y" \
		"sources \[source-x\] haven't been added" 1
}

function query_status_with_tasks() {
	run_dm_ctl $WORK_DIR "$MASTER_HOST:$MASTER_PORT" \
		"query-status -s $SOURCE_ID1,$SOURCE_ID2" \
		"\"result\": true" 3 \
		"\"unit\": \"Sync\"" 2 \
		"\"stage\": \"Running\"" 2
	run_dm_ctl $WORK_DIR "$MASTER_HOST:$MASTER_PORT" \
		"query-status" \
		"\"result\": true" 1 \
		"\"taskName\": \"test\"" 1 \
		"\"taskStatus\": \"Running\"" 1 \
		"\"sources\":" 1 \
		"\"$SOURCE_ID1\"" 1 \
		"\"$SOURCE_ID2\"" 1
}

function query_status_paused_tasks() {
	run_dm_ctl_with_retry $WORK_DIR "$MASTER_HOST:$MASTER_PORT" \
		"query-status -s $SOURCE_ID1,$SOURCE_ID2" \
		"\"result\": true" 3 \
		"\"stage\": \"Paused\"" 2
}

# no relay here (enable-relay: false), so only the two subtasks are Running
function query_status_running_tasks() {
	run_dm_ctl_with_retry $WORK_DIR "$MASTER_HOST:$MASTER_PORT" \
		"query-status -s $SOURCE_ID1,$SOURCE_ID2" \
		"\"result\": true" 3 \
		"\"stage\": \"Running\"" 2
}
