/* routes.h - handlers, one file per resource. */
#ifndef UMS_ROUTES_H
#define UMS_ROUTES_H

struct req;

void route_healthz(struct req *r);
void route_readyz(struct req *r);

#endif
