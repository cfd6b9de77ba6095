/*
** api/h_subscriptions.c: NGSI-LD /subscriptions (ETSI GS CIM 009 cl. 5.8, 6.10-6.11).
** Not implemented yet: 501 OperationNotSupported.
*/
#include "api/ngsild_int.h"

void ld_subscriptions(struct ld_req *r)
{
    ld_error(r, 501, "OperationNotSupported", "/subscriptions is not implemented yet");
}
