<?php
// Bench peer: a pecl gearman worker that returns the workload.
//
//   php worker.php PORT WARM_FN MAIN_FN
//
// Line protocol with the harness (see bench/README.md):
//   prints "ready" once WARM_FN is registered; serves WARM_FN (the warm-up jobs);
//   on stdin "go": registers MAIN_FN and prints "go <CLOCK_MONOTONIC ns>";
//   on stdin "stop" or EOF: prints "done {"warm":N,"main":N,"jobs":N,"cpuUs":N}" and
//   exits 0, where jobs and cpuUs (user + system CPU time) count from "go" on.
// stdin is read only while idle (work() timed out), so it costs nothing per job.

if ($argc !== 4) {
    fwrite(STDERR, "usage: php worker.php PORT WARM_FN MAIN_FN\n");
    exit(2);
}
[$_, $port, $warmFn, $mainFn] = $argv;

$counts = ['warm' => 0, 'main' => 0];
function cpuUs(): int
{
    $u = getrusage();
    return $u['ru_utime.tv_sec'] * 1000000 + $u['ru_utime.tv_usec'] + $u['ru_stime.tv_sec'] * 1000000 + $u['ru_stime.tv_usec'];
}
$cpuAtGo = 0;
$jobsAtGo = 0;
$worker = new GearmanWorker();
$worker->addServer('127.0.0.1', (int) $port);
// Idle wake-up every 5 ms to look at stdin; under load work() never waits that long.
$worker->setTimeout(5);
$worker->addFunction($warmFn, function (GearmanJob $job) use (&$counts) {
    $counts['warm']++;
    return $job->workload();
});
stream_set_blocking(STDIN, false);
echo "ready\n";

$registered = false;
for (;;) {
    if (@$worker->work()) {
        continue;
    }
    $rc = $worker->returnCode();
    if ($rc !== GEARMAN_TIMEOUT && $rc !== GEARMAN_IO_WAIT && $rc !== GEARMAN_NO_JOBS) {
        fwrite(STDERR, "work() failed: " . $worker->error() . " (return code $rc)\n");
        exit(1);
    }
    while (($line = fgets(STDIN)) !== false) {
        $line = trim($line);
        if ($line === 'go' && !$registered) {
            $worker->addFunction($mainFn, function (GearmanJob $job) use (&$counts) {
                $counts['main']++;
                return $job->workload();
            });
            $registered = true;
            $cpuAtGo = cpuUs();
            $jobsAtGo = $counts['warm'] + $counts['main'];
            echo 'go ' . hrtime(true) . "\n";
        } elseif ($line === 'stop') {
            break 2;
        }
    }
    if (feof(STDIN)) {
        break;
    }
}
$counts['jobs'] = $registered ? $counts['warm'] + $counts['main'] - $jobsAtGo : 0;
$counts['cpuUs'] = $registered ? cpuUs() - $cpuAtGo : 0;
echo 'done ' . json_encode($counts) . "\n";
