/*
** ngsild/ldctx_core.c: the NGSI-LD core @context built into the binary, and the list of URLs it
** answers to.
** Owns: one const string (the document) and one const table (the URLs); no state.
** Content: the term definitions of the core @context of ETSI GS CIM 009 V1.8 (Annex B), one term
** per line. Every official URL (unversioned and v1.3 .. v1.9) maps to this one document: Vigie
** never fetches a context, and clients in the field name all of these versions. The terms added by
** V1.9 are not here: they would turn attribute names of V1.8 users into ngsi-ld: IRIs.
** Note: "attributeCount" and "attributeDetails" map to themselves in the official file, which makes
** them @vocab-relative (https://uri.etsi.org/ngsi-ld/default-context/attributeCount); ldctx.c
** resolves a self-reference that way.
*/
#include "ngsild/ldctx.h"

#include <string.h>

static const char core_text[] =
    "{\"@context\": {\n"
    "  \"@version\": 1.1,\n"
    "  \"@protected\": true,\n"
    "  \"ngsi-ld\": \"https://uri.etsi.org/ngsi-ld/\",\n"
    "  \"geojson\": \"https://purl.org/geojson/vocab#\",\n"
    "  \"id\": \"@id\",\n"
    "  \"type\": \"@type\",\n"
    "  \"Attribute\": \"ngsi-ld:Attribute\",\n"
    "  \"AttributeList\": \"ngsi-ld:AttributeList\",\n"
    "  \"ContextSourceIdentity\": \"ngsi-ld:ContextSourceIdentity\",\n"
    "  \"ContextSourceNotification\": \"ngsi-ld:ContextSourceNotification\",\n"
    "  \"ContextSourceRegistration\": \"ngsi-ld:ContextSourceRegistration\",\n"
    "  \"Date\": \"ngsi-ld:Date\",\n"
    "  \"DateTime\": \"ngsi-ld:DateTime\",\n"
    "  \"EntityType\": \"ngsi-ld:EntityType\",\n"
    "  \"EntityTypeInfo\": \"ngsi-ld:EntityTypeInfo\",\n"
    "  \"EntityTypeList\": \"ngsi-ld:EntityTypeList\",\n"
    "  \"Feature\": \"geojson:Feature\",\n"
    "  \"FeatureCollection\": \"geojson:FeatureCollection\",\n"
    "  \"GeoProperty\": \"ngsi-ld:GeoProperty\",\n"
    "  \"GeometryCollection\": \"geojson:GeometryCollection\",\n"
    "  \"JsonProperty\": \"ngsi-ld:JsonProperty\",\n"
    "  \"LanguageProperty\": \"ngsi-ld:LanguageProperty\",\n"
    "  \"LineString\": \"geojson:LineString\",\n"
    "  \"ListProperty\": \"ngsi-ld:ListProperty\",\n"
    "  \"ListRelationship\": \"ngsi-ld:ListRelationship\",\n"
    "  \"MultiLineString\": \"geojson:MultiLineString\",\n"
    "  \"MultiPoint\": \"geojson:MultiPoint\",\n"
    "  \"MultiPolygon\": \"geojson:MultiPolygon\",\n"
    "  \"Notification\": \"ngsi-ld:Notification\",\n"
    "  \"Point\": \"geojson:Point\",\n"
    "  \"Polygon\": \"geojson:Polygon\",\n"
    "  \"Property\": \"ngsi-ld:Property\",\n"
    "  \"Relationship\": \"ngsi-ld:Relationship\",\n"
    "  \"Subscription\": \"ngsi-ld:Subscription\",\n"
    "  \"TemporalProperty\": \"ngsi-ld:TemporalProperty\",\n"
    "  \"Time\": \"ngsi-ld:Time\",\n"
    "  \"VocabProperty\": \"ngsi-ld:VocabProperty\",\n"
    "  \"accept\": \"ngsi-ld:accept\",\n"
    "  \"attributeCount\": \"attributeCount\",\n"
    "  \"attributeDetails\": \"attributeDetails\",\n"
    "  \"attributeList\": {\"@id\": \"ngsi-ld:attributeList\", \"@type\": \"@vocab\"},\n"
    "  \"attributeName\": {\"@id\": \"ngsi-ld:attributeName\", \"@type\": \"@vocab\"},\n"
    "  \"attributeNames\": {\"@id\": \"ngsi-ld:attributeNames\", \"@type\": \"@vocab\"},\n"
    "  \"attributeTypes\": {\"@id\": \"ngsi-ld:attributeTypes\", \"@type\": \"@vocab\"},\n"
    "  \"attributes\": {\"@id\": \"ngsi-ld:attributes\", \"@type\": \"@vocab\"},\n"
    "  \"attrs\": \"ngsi-ld:attrs\",\n"
    "  \"avg\": {\"@id\": \"ngsi-ld:avg\", \"@container\": \"@list\"},\n"
    "  \"bbox\": {\"@id\": \"geojson:bbox\", \"@container\": \"@list\"},\n"
    "  \"cacheDuration\": \"ngsi-ld:cacheDuration\",\n"
    "  \"containedBy\": \"ngsi-ld:isContainedBy\",\n"
    "  \"contextSourceAlias\": \"ngsi-ld:contextSourceAlias\",\n"
    "  \"contextSourceExtras\": {\"@id\": \"ngsi-ld:contextSourceExtras\", \"@type\": \"@json\"},\n"
    "  \"contextSourceInfo\": \"ngsi-ld:contextSourceInfo\",\n"
    "  \"contextSourceTimeAt\": {\"@id\": \"ngsi-ld:contextSourceTimeAt\", \"@type\": \"DateTime\"},\n"
    "  \"contextSourceUptime\": \"ngsi-ld:contextSourceUptime\",\n"
    "  \"cooldown\": \"ngsi-ld:cooldown\",\n"
    "  \"coordinates\": {\"@id\": \"geojson:coordinates\", \"@container\": \"@list\"},\n"
    "  \"createdAt\": {\"@id\": \"ngsi-ld:createdAt\", \"@type\": \"DateTime\"},\n"
    "  \"csf\": \"ngsi-ld:csf\",\n"
    "  \"data\": \"ngsi-ld:data\",\n"
    "  \"dataset\": {\"@id\": \"ngsi-ld:hasDataset\", \"@container\": \"@index\"},\n"
    "  \"datasetId\": {\"@id\": \"ngsi-ld:datasetId\", \"@type\": \"@id\"},\n"
    "  \"deletedAt\": {\"@id\": \"ngsi-ld:deletedAt\", \"@type\": \"DateTime\"},\n"
    "  \"description\": \"http://purl.org/dc/terms/description\",\n"
    "  \"detail\": \"ngsi-ld:detail\",\n"
    "  \"distinctCount\": {\"@id\": \"ngsi-ld:distinctCount\", \"@container\": \"@list\"},\n"
    "  \"endAt\": {\"@id\": \"ngsi-ld:endAt\", \"@type\": \"DateTime\"},\n"
    "  \"endTimeAt\": {\"@id\": \"ngsi-ld:endTimeAt\", \"@type\": \"DateTime\"},\n"
    "  \"endpoint\": \"ngsi-ld:endpoint\",\n"
    "  \"entities\": \"ngsi-ld:entities\",\n"
    "  \"entity\": \"ngsi-ld:entity\",\n"
    "  \"entityCount\": \"ngsi-ld:entityCount\",\n"
    "  \"entityId\": {\"@id\": \"ngsi-ld:entityId\", \"@type\": \"@id\"},\n"
    "  \"entityList\": {\"@id\": \"ngsi-ld:entityList\", \"@container\": \"@list\"},\n"
    "  \"entityMap\": \"ngsi-ld:hasEntityMap\",\n"
    "  \"error\": \"ngsi-ld:error\",\n"
    "  \"errors\": \"ngsi-ld:errors\",\n"
    "  \"expandValues\": \"ngsi-ld:expandValues\",\n"
    "  \"expiresAt\": {\"@id\": \"ngsi-ld:expiresAt\", \"@type\": \"DateTime\"},\n"
    "  \"features\": {\"@id\": \"geojson:features\", \"@container\": \"@set\"},\n"
    "  \"format\": \"ngsi-ld:format\",\n"
    "  \"geoQ\": \"ngsi-ld:geoQ\",\n"
    "  \"geometry\": \"geojson:geometry\",\n"
    "  \"geometryProperty\": \"geojson:geometryProperty\",\n"
    "  \"geoproperty\": \"ngsi-ld:geoproperty\",\n"
    "  \"georel\": \"ngsi-ld:georel\",\n"
    "  \"idPattern\": \"ngsi-ld:idPattern\",\n"
    "  \"information\": \"ngsi-ld:information\",\n"
    "  \"instanceId\": {\"@id\": \"ngsi-ld:instanceId\", \"@type\": \"@id\"},\n"
    "  \"isActive\": \"ngsi-ld:isActive\",\n"
    "  \"join\": \"ngsi-ld:join\",\n"
    "  \"joinLevel\": \"ngsi-ld:hasJoinLevel\",\n"
    "  \"json\": {\"@id\": \"ngsi-ld:hasJSON\", \"@type\": \"@json\"},\n"
    "  \"jsonKeys\": \"ngsi-ld:jsonKeys\",\n"
    "  \"jsons\": {\"@id\": \"ngsi-ld:jsons\", \"@container\": \"@list\"},\n"
    "  \"key\": \"ngsi-ld:hasKey\",\n"
    "  \"lang\": \"ngsi-ld:lang\",\n"
    "  \"languageMap\": {\"@id\": \"ngsi-ld:hasLanguageMap\", \"@container\": \"@language\"},\n"
    "  \"languageMaps\": {\"@id\": \"ngsi-ld:hasLanguageMaps\", \"@container\": \"@list\"},\n"
    "  \"lastFailure\": {\"@id\": \"ngsi-ld:lastFailure\", \"@type\": \"DateTime\"},\n"
    "  \"lastNotification\": {\"@id\": \"ngsi-ld:lastNotification\", \"@type\": \"DateTime\"},\n"
    "  \"lastSuccess\": {\"@id\": \"ngsi-ld:lastSuccess\", \"@type\": \"DateTime\"},\n"
    "  \"linkedMaps\": \"ngsi-ld:linkedMaps\",\n"
    "  \"localOnly\": \"ngsi-ld:localOnly\",\n"
    "  \"location\": \"ngsi-ld:location\",\n"
    "  \"management\": \"ngsi-ld:management\",\n"
    "  \"managementInterval\": \"ngsi-ld:managementInterval\",\n"
    "  \"max\": {\"@id\": \"ngsi-ld:max\", \"@container\": \"@list\"},\n"
    "  \"min\": {\"@id\": \"ngsi-ld:min\", \"@container\": \"@list\"},\n"
    "  \"mode\": \"ngsi-ld:mode\",\n"
    "  \"modifiedAt\": {\"@id\": \"ngsi-ld:modifiedAt\", \"@type\": \"DateTime\"},\n"
    "  \"notification\": \"ngsi-ld:notification\",\n"
    "  \"notificationTrigger\": \"ngsi-ld:notificationTrigger\",\n"
    "  \"notifiedAt\": {\"@id\": \"ngsi-ld:notifiedAt\", \"@type\": \"DateTime\"},\n"
    "  \"notifierInfo\": \"ngsi-ld:notifierInfo\",\n"
    "  \"notUpdated\": \"ngsi-ld:notUpdated\",\n"
    "  \"object\": {\"@id\": \"ngsi-ld:hasObject\", \"@type\": \"@id\"},\n"
    "  \"objectList\": {\"@id\": \"ngsi-ld:hasObjectList\", \"@container\": \"@list\"},\n"
    "  \"objects\": {\"@id\": \"ngsi-ld:hasObjects\", \"@container\": \"@list\"},\n"
    "  \"objectsLists\": {\"@id\": \"ngsi-ld:hasObjectsLists\", \"@container\": \"@list\"},\n"
    "  \"objectType\": {\"@id\": \"ngsi-ld:hasObjectType\", \"@type\": \"@vocab\"},\n"
    "  \"observationInterval\": \"ngsi-ld:observationInterval\",\n"
    "  \"observationSpace\": \"ngsi-ld:observationSpace\",\n"
    "  \"observedAt\": {\"@id\": \"ngsi-ld:observedAt\", \"@type\": \"DateTime\"},\n"
    "  \"omit\": \"ngsi-ld:omit\",\n"
    "  \"operationSpace\": \"ngsi-ld:operationSpace\",\n"
    "  \"operations\": \"ngsi-ld:operations\",\n"
    "  \"pick\": \"ngsi-ld:pick\",\n"
    "  \"previousJson\": {\"@id\": \"ngsi-ld:hasPreviousJson\", \"@type\": \"@json\"},\n"
    "  \"previousLanguageMap\": {\"@id\": \"ngsi-ld:hasPreviousLanguageMap\", \"@container\": \"@language\"},\n"
    "  \"previousObject\": {\"@id\": \"ngsi-ld:hasPreviousObject\", \"@type\": \"@id\"},\n"
    "  \"previousObjectList\": {\"@id\": \"ngsi-ld:hasPreviousObjectList\", \"@container\": \"@list\"},\n"
    "  \"previousValue\": \"ngsi-ld:hasPreviousValue\",\n"
    "  \"previousValueList\": {\"@id\": \"ngsi-ld:hasPreviousValueList\", \"@container\": \"@list\"},\n"
    "  \"previousVocab\": {\"@id\": \"ngsi-ld:hasPreviousVocab\", \"@type\": \"@vocab\"},\n"
    "  \"properties\": \"geojson:properties\",\n"
    "  \"propertyNames\": {\"@id\": \"ngsi-ld:propertyNames\", \"@type\": \"@vocab\"},\n"
    "  \"q\": \"ngsi-ld:q\",\n"
    "  \"reason\": \"ngsi-ld:reason\",\n"
    "  \"receiverInfo\": \"ngsi-ld:receiverInfo\",\n"
    "  \"refreshRate\": \"ngsi-ld:refreshRate\",\n"
    "  \"registrationId\": \"ngsi-ld:registrationId\",\n"
    "  \"registrationName\": \"ngsi-ld:registrationName\",\n"
    "  \"relationshipNames\": {\"@id\": \"ngsi-ld:relationshipNames\", \"@type\": \"@vocab\"},\n"
    "  \"scope\": \"ngsi-ld:scope\",\n"
    "  \"scopeQ\": \"ngsi-ld:scopeQ\",\n"
    "  \"showChanges\": \"ngsi-ld:showChanges\",\n"
    "  \"startAt\": {\"@id\": \"ngsi-ld:startAt\", \"@type\": \"DateTime\"},\n"
    "  \"status\": \"ngsi-ld:status\",\n"
    "  \"stddev\": {\"@id\": \"ngsi-ld:stddev\", \"@container\": \"@list\"},\n"
    "  \"subscriptionId\": {\"@id\": \"ngsi-ld:subscriptionId\", \"@type\": \"@id\"},\n"
    "  \"subscriptionName\": \"ngsi-ld:subscriptionName\",\n"
    "  \"success\": {\"@id\": \"ngsi-ld:success\", \"@type\": \"@id\"},\n"
    "  \"sum\": {\"@id\": \"ngsi-ld:sum\", \"@container\": \"@list\"},\n"
    "  \"sumsq\": {\"@id\": \"ngsi-ld:sumsq\", \"@container\": \"@list\"},\n"
    "  \"sysAttrs\": \"ngsi-ld:sysAttrs\",\n"
    "  \"temporalQ\": \"ngsi-ld:temporalQ\",\n"
    "  \"tenant\": {\"@id\": \"ngsi-ld:tenant\", \"@type\": \"@id\"},\n"
    "  \"throttling\": \"ngsi-ld:throttling\",\n"
    "  \"timeAt\": {\"@id\": \"ngsi-ld:timeAt\", \"@type\": \"DateTime\"},\n"
    "  \"timeInterval\": \"ngsi-ld:timeInterval\",\n"
    "  \"timeout\": \"ngsi-ld:timeout\",\n"
    "  \"timeproperty\": \"ngsi-ld:timeproperty\",\n"
    "  \"timerel\": \"ngsi-ld:timerel\",\n"
    "  \"timesFailed\": \"ngsi-ld:timesFailed\",\n"
    "  \"timesSent\": \"ngsi-ld:timesSent\",\n"
    "  \"title\": \"http://purl.org/dc/terms/title\",\n"
    "  \"totalCount\": {\"@id\": \"ngsi-ld:totalCount\", \"@container\": \"@list\"},\n"
    "  \"triggerReason\": \"ngsi-ld:triggerReason\",\n"
    "  \"typeList\": {\"@id\": \"ngsi-ld:typeList\", \"@type\": \"@vocab\"},\n"
    "  \"typeName\": {\"@id\": \"ngsi-ld:typeName\", \"@type\": \"@vocab\"},\n"
    "  \"typeNames\": {\"@id\": \"ngsi-ld:typeNames\", \"@type\": \"@vocab\"},\n"
    "  \"unchanged\": \"ngsi-ld:unchanged\",\n"
    "  \"unitCode\": \"ngsi-ld:unitCode\",\n"
    "  \"updated\": \"ngsi-ld:updated\",\n"
    "  \"uri\": \"ngsi-ld:uri\",\n"
    "  \"value\": \"ngsi-ld:hasValue\",\n"
    "  \"valueList\": {\"@id\": \"ngsi-ld:hasValueList\", \"@container\": \"@list\"},\n"
    "  \"valueLists\": {\"@id\": \"ngsi-ld:hasValueLists\", \"@container\": \"@list\"},\n"
    "  \"values\": {\"@id\": \"ngsi-ld:hasValues\", \"@container\": \"@list\"},\n"
    "  \"vocab\": {\"@id\": \"ngsi-ld:hasVocab\", \"@type\": \"@vocab\"},\n"
    "  \"vocabs\": {\"@id\": \"ngsi-ld:hasVocabs\", \"@container\": \"@list\"},\n"
    "  \"watchedAttributes\": {\"@id\": \"ngsi-ld:watchedAttributes\", \"@type\": \"@vocab\"},\n"
    "  \"@vocab\": \"https://uri.etsi.org/ngsi-ld/default-context/\"\n"
    "}}\n";

static const char *const core_urls[] = {
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld",
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.3.jsonld",
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.4.jsonld",
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.5.jsonld",
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.6.jsonld",
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.7.jsonld",
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld",
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld",
};

const char *ldctx_core_text(void)
{
    return core_text;
}

int ldctx_is_core_url(const char *url)
{
    if (!url)
        return 0;
    for (size_t i = 0; i < VG_ARRAY_LEN(core_urls); i++)
        if (strcmp(url, core_urls[i]) == 0)
            return 1;
    return 0;
}

/* The i-th core URL, NULL past the end (ldctx.c registers each of them). */
const char *ldctx__core_url(size_t i)
{
    return i < VG_ARRAY_LEN(core_urls) ? core_urls[i] : NULL;
}
