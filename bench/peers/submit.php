<?php
// Bench peer: a pecl gearman client that submits background jobs.
//
//   php submit.php PORT WARM_FN MAIN_FN COUNT WARM_COUNT MODE PAYLOAD
//
// MODE "batch": addTaskBackground() COUNT times, then one runTasks() (libgearman
// pipelines the whole batch); MODE "single": doBackground() COUNT times, one round trip
// each. WARM_COUNT jobs of WARM_FN go first, the same way, untimed (this also connects).
// Prints "result {"ns":N,"count":N,"cpuUs":N}" for the timed part only (cpuUs: user +
// system CPU time of this process).

if ($argc !== 8) {
    fwrite(STDERR, "usage: php submit.php PORT WARM_FN MAIN_FN COUNT WARM_COUNT batch|single PAYLOAD\n");
    exit(2);
}
[$_, $port, $warmFn, $mainFn, $count, $warmCount, $mode, $payload] = $argv;
$count = (int) $count;
$warmCount = (int) $warmCount;

function cpuUs(): int
{
    $u = getrusage();
    return $u['ru_utime.tv_sec'] * 1000000 + $u['ru_utime.tv_usec'] + $u['ru_stime.tv_sec'] * 1000000 + $u['ru_stime.tv_usec'];
}

$client = new GearmanClient();
$client->addServer('127.0.0.1', (int) $port);

function submit(GearmanClient $client, string $fn, int $n, string $mode, string $payload): void
{
    if ($mode === 'batch') {
        for ($i = 0; $i < $n; $i++) {
            $client->addTaskBackground($fn, $payload);
        }
        if (!$client->runTasks()) {
            fwrite(STDERR, "runTasks() failed: " . $client->error() . "\n");
            exit(1);
        }
        return;
    }
    for ($i = 0; $i < $n; $i++) {
        $client->doBackground($fn, $payload);
        if ($client->returnCode() !== GEARMAN_SUCCESS) {
            fwrite(STDERR, "doBackground() failed: " . $client->error() . "\n");
            exit(1);
        }
    }
}

submit($client, $warmFn, $warmCount, $mode, $payload);
$cpu = cpuUs();
$start = hrtime(true);
submit($client, $mainFn, $count, $mode, $payload);
$ns = hrtime(true) - $start;
$cpu = cpuUs() - $cpu;
echo 'result ' . json_encode(['ns' => $ns, 'count' => $count, 'cpuUs' => $cpu]) . "\n";
