/*
 * tandem-fleet: vehicle tracking at volume (fleet.h says how it is built, docs/fleet.md what it
 * promises).
 *
 *   POST /api/fleet/positions            one position over REST (204 once applied)
 *   POST /api/fleet/positions/batch      up to 1000 (200 {"applied":n,"stale":m})
 *   GET  /api/fleet/vehicles/{id}        a vehicle
 *   GET  /api/fleet/vehicles?bbox=...    the vehicles inside a box
 *   GET  /api/fleet/vehicles/{id}/trail  its recent positions
 *   GET  /api/fleet/stats                this instance's counters
 *   GET  /api/fleet/stream?bbox=...      server-sent events, throttled per client
 *
 * Consumes vehicle-positions (32-byte binary positions keyed by the vehicle id) in the group
 * "fleet"; malformed records go to vehicle-positions.dlq. Settings besides the runtime's
 * (docs/libtandem.md): --partitions, --max-vehicles, --trail-points, --snapshot-interval,
 * --queued-records. The default --listen is 127.0.0.1:8161.
 */
#include <stdlib.h>

#include "fleet.h"
#include "tandem/service.h"

static struct fleet fleet;

int main(int argc, char **argv)
{
    setenv("TANDEM_LISTEN", "127.0.0.1:8161", 0); /* a flag or the environment wins */
    struct tandem_service *svc;
    if (tandem_service_new("fleet", argc, argv, &svc) != 0) {
        return 2; /* logged */
    }
    int rc = fleet_setup(&fleet, svc);
    if (rc == 0) {
        rc = tandem_service_run(svc); /* until SIGTERM: the drain writes the last snapshots */
    }
    fleet_cleanup(&fleet);
    tandem_service_free(svc);
    return rc == 0 ? 0 : 1;
}
